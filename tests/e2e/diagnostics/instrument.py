"""Copy of a model whose float32 intermediate tensors are also graph outputs, to find the first
node whose output differs run to run on WebGPU.
  python instrument.py unet [--ops Conv,MatMul,...] [--first N] [--last M]   → $DIAG_SCRATCH/<model>_all.onnx"""
import argparse, json, os
import onnx
from onnx import helper, shape_inference, TensorProto

ap = argparse.ArgumentParser()
ap.add_argument('model')
ap.add_argument('--ops', default='')
ap.add_argument('--start', type=int, default=0)
ap.add_argument('--end', type=int, default=10**9)
ap.add_argument('--tag', default='all')
a = ap.parse_args()
root = os.path.abspath(os.path.join(os.path.dirname(__file__), '../../..'))
scratch = os.environ.get('DIAG_SCRATCH', '/tmp/onestep-diag')
m = onnx.load(os.path.join(root, 'public/models/onestep-emoji', a.model, 'model.onnx'))
m = shape_inference.infer_shapes(m)
types = {vi.name: vi.type.tensor_type.elem_type for vi in list(m.graph.value_info) + list(m.graph.output)}
skip = {'Constant', 'Shape', 'Gather', 'Unsqueeze', 'Concat', 'ConstantOfShape', 'Reshape', 'Cast', 'Slice', 'Equal', 'Where', 'Expand', 'Range'}
want = set(a.ops.split(',')) if a.ops else None
existing = {o.name for o in m.graph.output}
order = []
for i, n in enumerate(m.graph.node):
    if i < a.start or i >= a.end:
        continue
    if n.op_type in skip or (want and n.op_type not in want):
        continue
    for o in n.output:
        if types.get(o) == TensorProto.FLOAT and o not in existing:
            m.graph.output.append(helper.make_tensor_value_info(o, TensorProto.FLOAT, None))
            existing.add(o)
            order.append({'index': i, 'op': n.op_type, 'node': n.name, 'output': o})
out = os.path.join(scratch, f'{a.model}_{a.tag}.onnx')
onnx.save(m, out)
json.dump(order, open(out + '.order.json', 'w'), indent=0)
print(out, len(order), 'extra outputs')
