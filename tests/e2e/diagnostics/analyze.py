"""Prints the per-output report of repeat.mjs --save in graph order: run-to-run and vs-WASM error."""
import json, sys
tag, onnx_tag = sys.argv[1], sys.argv[2]
r = json.load(open(f'/tmp/onestep-diag/out/{tag}/report.json'))
order = {o['output']: o for o in json.load(open(f'/tmp/onestep-diag/{onnx_tag}.onnx.order.json'))}
rows = []
for x in r:
    o = order.get(x['name'], {'index': 99999, 'op': 'OUT'})
    rr = max((d['max'] for d in x.get('runToRun', [])), default=0)
    vw = [d['max'] for d in x['vsWasm']]
    vm = [d['mean'] for d in x['vsWasm']]
    rows.append((o['index'], o['op'], x['name'], rr, vw, vm))
rows.sort()
thr = float(sys.argv[3]) if len(sys.argv) > 3 else 0
for i, op, name, rr, vw, vm in rows:
    if rr > 0 or max(vw) > thr:
        print(f'{i:5d} {op:22s} rr={rr:.2e} vsWasm max={"/".join(f"{v:.2e}" for v in vw)} mean={"/".join(f"{v:.2e}" for v in vm)} {name}')
