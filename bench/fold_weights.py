"""A graph with its stored weights folded to fp32 offline, the fp32 weights as ONNX external data:
what the page would hand onnxruntime-web if it rebuilt the weights from their int8/int4 bytes itself
(bench/weights-format.mjs measures both). ORT's `basic` level is constant folding only, so the
result is standard ONNX and computes what the stored graph computes.

usage: python bench/fold_weights.py <model.onnx> <out-dir>   -> out-dir/model.onnx + out-dir/weights.bin
"""
import os
import sys
from pathlib import Path

import onnx
import onnxruntime as ort


def main(src: str, out_dir: str):
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    so.optimized_model_filepath = str(out / "folded-inline.onnx")
    ort.InferenceSession(src, so, providers=["CPUExecutionProvider"])
    m = onnx.load(str(out / "folded-inline.onnx"))
    (out / "weights.bin").unlink(missing_ok=True)  # onnx appends external data to an existing file
    onnx.save_model(m, str(out / "model.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="weights.bin", size_threshold=1024)
    os.remove(out / "folded-inline.onnx")
    print(f"{src}: {len(onnx.load(src, load_external_data=False).graph.node)} nodes -> {len(m.graph.node)} folded; "
          f"weights.bin {os.path.getsize(out / 'weights.bin'):,} B")


if __name__ == "__main__":
    main(*sys.argv[1:3])
