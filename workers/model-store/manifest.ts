/**
 * Fetch and validate a model's manifest.json. Validation happens here, at load time, so a bad
 * manifest is one clear ManifestError naming the field, never a crash deep inside ORT.
 */
import { ManifestError } from '../../src/shared/errors';
import type { Manifest, ModelIndexEntry } from '../../src/shared/types';

const REQUIRED_FILES = ['tokenizer', 'text_encoder', 'unet', 'vae_decoder'] as const;

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function field(obj: Obj, key: string, where: string): unknown {
  if (!(key in obj)) throw new ManifestError(`manifest: missing "${where}${key}"`);
  return obj[key];
}

function obj(parent: Obj, key: string, where: string): Obj {
  const v = field(parent, key, where);
  if (!isObj(v)) throw new ManifestError(`manifest: "${where}${key}" must be an object`);
  return v;
}

function num(parent: Obj, key: string, where: string, check?: (n: number) => boolean, why = ''): number {
  const v = field(parent, key, where);
  if (typeof v !== 'number' || !Number.isFinite(v) || (check && !check(v))) {
    throw new ManifestError(`manifest: "${where}${key}" must be a ${why || 'finite number'}, got ${JSON.stringify(v)}`);
  }
  return v;
}

function str(parent: Obj, key: string, where: string): string {
  const v = field(parent, key, where);
  if (typeof v !== 'string' || v.length === 0) {
    throw new ManifestError(`manifest: "${where}${key}" must be a non-empty string`);
  }
  return v;
}

function oneOf<T extends string>(parent: Obj, key: string, where: string, allowed: readonly T[]): T {
  const v = str(parent, key, where);
  if (!(allowed as readonly string[]).includes(v)) {
    throw new ManifestError(`manifest: "${where}${key}" is "${v}"; this app supports ${allowed.join(', ')}`);
  }
  return v as T;
}

const positiveInt = (n: number) => Number.isInteger(n) && n > 0;
/** Bounds that refuse a hostile manifest before anything is allocated from its numbers: no file a
 * browser could load is over 4 GiB (wasm32's address space); SDXL-size latents are 4 x 128 x 128,
 * the largest canvas this app draws is 2048 x 2048; prompts are at most 512 tokens (BERT's and far
 * over CLIP's 77); a tokenizer file is parsed whole on the worker's thread, and the largest real
 * ones (multilingual vocabularies) are ~17 MB, so 64 MiB. */
const MAX_FILE_BYTES = 2 ** 32;
const MAX_TOKENIZER_BYTES = 64 * 2 ** 20;
const MAX_LATENT_VALUES = 16 * 256 * 256;
const MAX_SIDE = 2048;
const MAX_TOKENS = 512;
const inRange = (hi: number) => (n: number) => positiveInt(n) && n <= hi;

function validateFile(files: Obj, key: string): void {
  const f = obj(files, key, 'files.');
  const where = `files.${key}.`;
  const path = str(f, 'path', where);
  // Paths are relative to the model folder; refuse anything that could escape it.
  if (path.startsWith('/') || path.split('/').includes('..') || /^[a-z]+:/i.test(path)) {
    throw new ManifestError(`manifest: "${where}path" must be a relative path inside the model folder`);
  }
  num(f, 'bytes', where, (n) => positiveInt(n) && n <= MAX_FILE_BYTES, `positive integer of at most ${MAX_FILE_BYTES} (4 GiB)`);
  const sha = str(f, 'sha256', where);
  if (!/^[0-9a-f]{64}$/.test(sha)) throw new ManifestError(`manifest: "${where}sha256" must be 64 lowercase hex digits`);
}

/** Throws ManifestError (with the offending field) unless `raw` is a manifest this app can run. */
export function validateManifest(raw: unknown): Manifest {
  if (!isObj(raw)) throw new ManifestError('manifest: not a JSON object');
  num(raw, 'schema', '', (n) => n === 1, 'schema version this app knows (1)');
  str(raw, 'id', '');
  str(raw, 'version', '');
  str(raw, 'name', '');

  const files = obj(raw, 'files', '');
  for (const key of REQUIRED_FILES) validateFile(files, key);
  for (const key of Object.keys(files)) if (!REQUIRED_FILES.includes(key as never)) validateFile(files, key);

  const tok = obj(raw, 'tokenizer', '');
  const kind = oneOf(tok, 'kind', 'tokenizer.', ['tokenizers-json', 'clip-bpe'] as const);
  if (kind === 'clip-bpe') {
    const merges = str(tok, 'merges', 'tokenizer.');
    if (!(merges in files)) throw new ManifestError(`manifest: "tokenizer.merges" names "${merges}", which is not in "files"`);
  }
  for (const key of ['tokenizer', ...(kind === 'clip-bpe' ? [tok.merges as string] : [])]) {
    num(
      obj(files, key, 'files.'),
      'bytes',
      `files.${key}.`,
      (n) => n <= MAX_TOKENIZER_BYTES,
      `size of at most ${MAX_TOKENIZER_BYTES} bytes (64 MiB) for a tokenizer file`,
    );
  }
  num(tok, 'max_length', 'tokenizer.', inRange(MAX_TOKENS), `whole number from 1 to ${MAX_TOKENS}`);
  num(tok, 'pad_id', 'tokenizer.', (n) => Number.isInteger(n) && n >= 0, 'non-negative integer');

  const tensors = obj(raw, 'tensors', '');
  for (const g of ['text_encoder', 'unet', 'vae_decoder']) {
    const graph = obj(tensors, g, 'tensors.');
    const inputs = obj(graph, 'inputs', `tensors.${g}.`);
    const outputs = obj(graph, 'outputs', `tensors.${g}.`);
    if (Object.keys(inputs).length === 0 || Object.keys(outputs).length === 0) {
      throw new ManifestError(`manifest: "tensors.${g}" needs at least one input and one output`);
    }
  }
  const unetIn = obj(obj(tensors, 'unet', 'tensors.'), 'inputs', 'tensors.unet.');
  for (const name of ['sample', 'timestep', 'encoder_hidden_states']) obj(unetIn, name, 'tensors.unet.inputs.');

  const latent = obj(raw, 'latent', '');
  const [c, h, w] = ['channels', 'height', 'width'].map((k) =>
    num(latent, k, 'latent.', inRange(MAX_SIDE), `whole number from 1 to ${MAX_SIDE}`),
  );
  if (c * h * w > MAX_LATENT_VALUES)
    throw new ManifestError(
      `manifest: "latent" is ${c} x ${h} x ${w}, more than the ${MAX_LATENT_VALUES} values this app allocates for one image`,
    );
  const output = obj(raw, 'output', '');
  for (const k of ['width', 'height']) num(output, k, 'output.', inRange(MAX_SIDE), `whole number from 1 to ${MAX_SIDE}`);
  const range = field(output, 'range', 'output.');
  if (!Array.isArray(range) || range.length !== 2 || !range.every((x) => typeof x === 'number') || range[0] >= range[1]) {
    throw new ManifestError('manifest: "output.range" must be [low, high] with low < high');
  }

  const rule = obj(raw, 'one_step', '');
  const form = oneOf(rule, 'rule', 'one_step.', ['ddpm', 'euler'] as const);
  if (form === 'euler') num(rule, 'sigma', 'one_step.', (n) => n > 0, 'positive number');
  oneOf(rule, 'prediction_type', 'one_step.', ['epsilon'] as const);
  num(rule, 'timestep', 'one_step.', (n) => Number.isInteger(n) && n >= 0, 'non-negative integer');
  num(rule, 'alpha_bar', 'one_step.', (n) => n > 0 && n <= 1, 'number in (0, 1]');
  num(rule, 'noise_scale', 'one_step.', (n) => n > 0, 'positive number');
  num(rule, 'input_scale', 'one_step.', (n) => n > 0, 'positive number');

  num(obj(raw, 'vae', ''), 'scaling_factor', 'vae.', (n) => n > 0, 'positive number');

  if ('requirements' in raw) {
    const req = obj(raw, 'requirements', '');
    const features = req.webgpu_features ?? [];
    if (!Array.isArray(features) || !features.every((f) => typeof f === 'string')) {
      throw new ManifestError('manifest: "requirements.webgpu_features" must be a list of feature names');
    }
    if ('max_tensor_bytes' in req) num(req, 'max_tensor_bytes', 'requirements.', positiveInt, 'positive integer');
  }
  if ('external_data' in raw) {
    const ext = obj(raw, 'external_data', '');
    for (const [graph, list] of Object.entries(ext)) {
      if (!(graph in files)) throw new ManifestError(`manifest: "external_data.${graph}" is not a file in "files"`);
      if (!Array.isArray(list) || !list.every((k) => typeof k === 'string' && k in files)) {
        throw new ManifestError(`manifest: "external_data.${graph}" must list keys of "files"`);
      }
    }
  }
  if ('runtime' in raw) {
    const rt = obj(raw, 'runtime', '');
    if ('max_batch' in rt) num(rt, 'max_batch', 'runtime.', inRange(64), 'whole number from 1 to 64');
    if ('free_dimension_overrides' in rt) {
      const fdo = obj(rt, 'free_dimension_overrides', 'runtime.');
      for (const [graph, dims] of Object.entries(fdo)) {
        if (!isObj(dims)) throw new ManifestError(`manifest: "runtime.free_dimension_overrides.${graph}" must be an object`);
        for (const k of Object.keys(dims))
          num(dims, k, `runtime.free_dimension_overrides.${graph}.`, inRange(4096), 'whole number from 1 to 4096');
      }
    }
  }

  if ('teacher' in raw) {
    const t = obj(raw, 'teacher', '');
    const file = str(t, 'file', 'teacher.');
    if (!(file in files)) throw new ManifestError(`manifest: "teacher.file" names "${file}", which is not in "files"`);
    oneOf(t, 'schedule', 'teacher.', ['ddim'] as const);
    oneOf(t, 'beta_schedule', 'teacher.', ['scaled_linear'] as const);
    oneOf(t, 'timestep_spacing', 'teacher.', ['trailing'] as const);
    oneOf(t, 'prediction_type', 'teacher.', ['epsilon'] as const);
    num(t, 'num_train_timesteps', 'teacher.', positiveInt, 'positive integer');
    num(t, 'beta_start', 'teacher.', (n) => n > 0, 'positive number');
    num(t, 'beta_end', 'teacher.', (n) => n > 0, 'positive number');
    num(t, 'default_steps', 'teacher.', positiveInt, 'positive integer');
    num(t, 'default_guidance', 'teacher.', (n) => n >= 0, 'non-negative number');
  }
  return raw as unknown as Manifest;
}

/** Reads public/models/index.json: the shipped model and the known remote exports. */
export async function readIndex(modelsBase: string): Promise<ModelIndexEntry[]> {
  const url = new URL('index.json', modelsBase);
  const res = await fetch(url);
  if (!res.ok) throw new ManifestError(`model index ${url.pathname}: HTTP ${res.status}`);
  const index = (await res.json()) as { models?: ModelIndexEntry[] };
  return index.models ?? [];
}

/** Fetches and validates the manifest; returns it with the folder URL its file paths are relative to. */
export async function fetchManifest(modelsBase: string, entry: ModelIndexEntry): Promise<{ manifest: Manifest; baseUrl: URL }> {
  if (!entry.manifest) throw new ManifestError(`model "${entry.id}" is a remote entry: add it by URL (${entry.url ?? 'no url'})`);
  const url = new URL(entry.manifest, modelsBase);
  let raw: unknown;
  try {
    const res = await fetch(url, { cache: 'no-cache' });
    if (!res.ok) throw new ManifestError(`manifest ${url.pathname}: HTTP ${res.status}`);
    raw = await res.json();
  } catch (err) {
    if (err instanceof ManifestError) throw err;
    throw new ManifestError(`manifest ${url.pathname}: ${(err as Error).message}`);
  }
  const manifest = validateManifest(raw);
  if (manifest.id !== entry.id) throw new ManifestError(`manifest id "${manifest.id}" does not match index id "${entry.id}"`);
  return { manifest, baseUrl: new URL('.', url) };
}
