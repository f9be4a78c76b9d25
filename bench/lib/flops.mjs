// FLOP counts per network: recomputed with bench/flops.py when a Python with `onnx` and
// `onnxruntime` is at hand (ONESTEP_PYTHON, else the factory's venv), otherwise the committed
// bench/results/flops.json (the counts change only when the model files do).
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

function findPython() {
  if (process.env.ONESTEP_PYTHON) return process.env.ONESTEP_PYTHON;
  const dir = path.join(os.homedir(), '.cache/onestep');
  if (!existsSync(dir)) return null;
  const venv = readdirSync(dir).find((d) => d.startsWith('venv-') && existsSync(path.join(dir, d, 'bin/python')));
  return venv ? path.join(dir, venv, 'bin/python') : null;
}

export function loadFlops(root, manifestPath, log) {
  const saved = path.join(root, 'bench/results/flops.json');
  const python = findPython();
  if (python) {
    try {
      const out = execFileSync(python, [path.join(root, 'bench/flops.py'), manifestPath], {
        cwd: root,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      writeFileSync(saved, out);
      return { ...JSON.parse(out), source: 'counted now (bench/flops.py)' };
    } catch (err) {
      log(`flops.py failed (${err.message.split('\n')[0]}); using ${path.relative(root, saved)}`);
    }
  }
  return { ...JSON.parse(readFileSync(saved, 'utf8')), source: 'bench/results/flops.json (no Python with onnx here)' };
}
