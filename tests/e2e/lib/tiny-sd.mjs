// Builds the tiny random Stable-Diffusion pipeline and converts it with the factory's converter,
// once per version of the generator/converter sources (cached in the OS temp folder, never in git):
//   <cache>/euler  SD-Turbo form, fp16 weights + fp32 compute (runs on WASM), UNet as external data
//   <cache>/fp16   DMD2 form with a separate one-step UNet, float16 graphs (needs shader-f16)
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

function run(cmd, args, cwd) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${(r.stderr || r.stdout || '').slice(-3000)}`);
  return r.stdout.trim();
}

export function buildTinySd(root) {
  const training = path.join(root, 'training');
  const sources = ['factory/tiny_sd.py', 'factory/convert_diffusers.py', 'factory/export.py', 'factory/manifest_schema.py'];
  const key = createHash('sha256');
  for (const s of sources) key.update(readFileSync(path.join(training, s)));
  const cache = path.join(os.tmpdir(), `onestep-e2e-tiny-sd-${key.digest('hex').slice(0, 12)}`);
  const done = path.join(cache, 'fp16', 'manifest.json');
  if (existsSync(done)) return { cache, built: false };
  rmSync(cache, { recursive: true, force: true });
  // setup_env.sh prints the pinned venv's path (building it only if it is missing).
  const venv = process.env.ONESTEP_VENV ?? run('bash', [path.join(training, 'setup_env.sh')], training);
  const py = path.join(venv, 'bin', 'python');
  run(py, ['-m', 'factory.tiny_sd', path.join(cache, 'pipeline'), '--onestep-unet', path.join(cache, 'dmd_unet.safetensors')], training);
  const common = ['-m', 'factory.convert_diffusers', '--pipeline', path.join(cache, 'pipeline')];
  run(
    py,
    [
      ...common,
      '--out',
      path.join(cache, 'euler'),
      '--id',
      'tiny-sd',
      '--name',
      'Tiny SD (random weights)',
      '--license',
      'MIT',
      '--rule',
      'euler',
      '--precision',
      'fp16-weights',
      '--external-data-above',
      '1000000',
    ],
    training,
  );
  run(
    py,
    [
      ...common,
      '--unet',
      path.join(cache, 'dmd_unet.safetensors'),
      '--out',
      path.join(cache, 'fp16'),
      '--id',
      'tiny-sd-fp16',
      '--name',
      'Tiny SD fp16 (random weights)',
      '--license',
      'CC-BY-NC-SA-4.0',
      '--rule',
      'ddpm',
      '--precision',
      'fp16',
    ],
    training,
  );
  return { cache, built: true };
}
