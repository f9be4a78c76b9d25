"""Cuts a subgraph out of a model (onnx.utils.extract_model) and writes its feeds, computed with
onnxruntime CPU on the full model's fixed inputs, so the piece can be rerun alone on WebGPU.
  python extract.py unet NAME --inputs a,b --outputs c,d"""
import argparse, base64, json, os
import numpy as np
import onnx, onnxruntime as ort
from onnx import helper, TensorProto, shape_inference

ap = argparse.ArgumentParser()
ap.add_argument('model'); ap.add_argument('name')
ap.add_argument('--inputs', required=True); ap.add_argument('--outputs', required=True)
a = ap.parse_args()
root = os.path.abspath(os.path.join(os.path.dirname(__file__), '../../..'))
scratch = os.environ.get('DIAG_SCRATCH', '/tmp/onestep-diag')
src = os.path.join(root, 'public/models/onestep-emoji', a.model, 'model.onnx')
ins, outs = a.inputs.split(','), a.outputs.split(',')
inf = os.path.join(scratch, f'{a.model}_inferred.onnx')
if not os.path.exists(inf):
    onnx.save(shape_inference.infer_shapes(onnx.load(src)), inf)
dst = os.path.join(scratch, f'{a.name}.onnx')
onnx.utils.extract_model(inf, dst, ins, outs)
# feeds: run the full model on CPU with the wanted inputs exposed
m = onnx.load(src)
have = {o.name for o in m.graph.output}
for n in ins:
    if n not in have and n not in {i.name for i in m.graph.input}:
        m.graph.output.append(helper.make_tensor_value_info(n, TensorProto.FLOAT, None))
s = ort.InferenceSession(m.SerializeToString(), providers=['CPUExecutionProvider'])
feeds = dict(np.load(os.path.join(scratch, 'feeds', f'{a.model}.npz')))
vals = dict(zip([o.name for o in s.get_outputs()], s.run(None, feeds)))
vals.update(feeds)
dtype = {np.dtype('float32'): 'float32', np.dtype('int64'): 'int64'}
json.dump({n: {'type': dtype[vals[n].dtype], 'dims': list(vals[n].shape), 'b64': base64.b64encode(np.ascontiguousarray(vals[n]).tobytes()).decode()} for n in ins},
          open(os.path.join(scratch, 'feeds', f'{a.name}.json'), 'w'))
print(dst, [(n, vals[n].shape) for n in ins])
