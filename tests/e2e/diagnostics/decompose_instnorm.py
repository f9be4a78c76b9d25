"""UNet copy whose InstanceNormalization nodes are spelled out with ReduceMean/Sub/Mul/Sqrt/Div, so
ORT's WebGPU (JSEP) layout pass has no InstanceNormalization to rewrite to its NHWC kernel: tells
whether that kernel is the one that goes wrong.  → $DIAG_SCRATCH/unet_noin.onnx"""
import os
import numpy as np
import onnx
from onnx import helper, numpy_helper

root = os.path.abspath(os.path.join(os.path.dirname(__file__), '../../..'))
scratch = os.environ.get('DIAG_SCRATCH', '/tmp/onestep-diag')
m = onnx.load(os.path.join(root, 'public/models/onestep-emoji/unet/model.onnx'))
g = m.graph
inits = {i.name: i for i in g.initializer}
for n in g.node:  # scale/bias are often Constant nodes
    if n.op_type == 'Constant':
        inits[n.output[0]] = next(a.t for a in n.attribute if a.name == 'value')
nodes = []
for k, n in enumerate(g.node):
    if n.op_type != 'InstanceNormalization':
        nodes.append(n)
        continue
    x, scale, bias = n.input
    y = n.output[0]
    eps = next((a.f for a in n.attribute if a.name == 'epsilon'), 1e-5)
    p = f'/in_decomp{k}/'
    c = numpy_helper.to_array(inits[scale]).shape[0]
    # scale/bias are [C]; reshape to [C, 1] to broadcast over [N, C, L]
    s2, b2, e = p + 'scale', p + 'bias', p + 'eps'
    g.initializer.extend([
        numpy_helper.from_array(numpy_helper.to_array(inits[scale]).reshape(c, 1).astype(np.float32), s2),
        numpy_helper.from_array(numpy_helper.to_array(inits[bias]).reshape(c, 1).astype(np.float32), b2),
        numpy_helper.from_array(np.array(eps, np.float32), e),
    ])
    nodes += [
        helper.make_node('ReduceMean', [x], [p + 'mean'], axes=[-1], keepdims=1),
        helper.make_node('Sub', [x, p + 'mean'], [p + 'xc']),
        helper.make_node('Mul', [p + 'xc', p + 'xc'], [p + 'sq']),
        helper.make_node('ReduceMean', [p + 'sq'], [p + 'var'], axes=[-1], keepdims=1),
        helper.make_node('Add', [p + 'var', e], [p + 've']),
        helper.make_node('Sqrt', [p + 've'], [p + 'std']),
        helper.make_node('Div', [p + 'xc', p + 'std'], [p + 'norm']),
        helper.make_node('Mul', [p + 'norm', s2], [p + 'scaled']),
        helper.make_node('Add', [p + 'scaled', b2], [y]),
    ]
del g.node[:]
g.node.extend(nodes)
onnx.checker.check_model(m)
out = os.path.join(scratch, 'unet_noin.onnx')
onnx.save(m, out)
print(out)
