/**
 * Fetch and validate a model's manifest.json. Validation happens here, at load time, so a bad
 * manifest is one clear ManifestError naming the field, never a crash deep inside ORT.
 */
import { ManifestError } from '../../src/shared/errors';
import { Validator, type Schema } from '@cfworker/json-schema';
import schema from '../../src/shared/manifest.schema.json';
import type { Manifest, ModelIndexEntry } from '../../src/shared/types';

/**
 * The manifest's shape and bounds are src/shared/manifest.schema.json, the one source shared with
 * the factory's exporters (training/factory/manifest_schema.py) and the generated types; checked
 * here with a validator that compiles nothing at run time (the CSP allows no eval). Checks across
 * fields, which a schema cannot say, follow it.
 */
const validator = new Validator(schema as Schema, '2020-12', false);

/** The latent of one image, and a tokenizer file (parsed whole on the worker's thread: the largest
 * real ones, multilingual vocabularies, are ~17 MB). */
const MAX_LATENT_VALUES = 16 * 256 * 256;
const MAX_TOKENIZER_BYTES = 64 * 2 ** 20;
// Keywords that only say "something below failed": the error to report is the one below them.
const COMPOSITE = new Set(['properties', 'additionalProperties', 'items', 'prefixItems', '$ref', 'allOf', 'if', 'then', 'propertyNames']);

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** "#/files/unet/path" → "files.unet.path" */
const dotted = (location: string) => location.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent).join('.');

/** The schema node a keyword location points into (following $ref), for its description. */
function schemaNode(keywordLocation: string): Obj {
  let node: unknown = schema;
  for (const part of keywordLocation.replace(/^#\/?/, '').split('/').slice(0, -1)) {
    if (!isObj(node)) break;
    node = part === '$ref' ? refTarget(node.$ref as string) : Array.isArray(node) ? node[Number(part)] : node[decodeURIComponent(part)];
  }
  return isObj(node) ? node : {};
}

function refTarget(ref: string): unknown {
  return ref
    .replace(/^#\//, '')
    .split('/')
    .reduce<unknown>((n, k) => (isObj(n) ? n[k] : undefined), schema);
}

/** JSON cannot hold NaN or Infinity, but a caller's object can: refuse them by name. */
function rejectNonFinite(v: unknown, where: string): void {
  if (typeof v === 'number' && !Number.isFinite(v)) throw new ManifestError(`manifest: "${where}" must be a finite number, got ${v}`);
  if (Array.isArray(v)) v.forEach((x, i) => rejectNonFinite(x, `${where}.${i}`));
  else if (isObj(v)) for (const [k, x] of Object.entries(v)) rejectNonFinite(x, where ? `${where}.${k}` : k);
}

function valueAt(raw: unknown, location: string): unknown {
  return dotted(location)
    .split('.')
    .filter(Boolean)
    .reduce<unknown>((n, k) => (isObj(n) || Array.isArray(n) ? (n as Obj)[k] : undefined), raw);
}

/** Throws ManifestError (with the offending field) unless `raw` is a manifest this app can run. */
export function validateManifest(raw: unknown): Manifest {
  if (!isObj(raw)) throw new ManifestError('manifest: not a JSON object');
  rejectNonFinite(raw, '');
  const result = validator.validate(raw);
  if (!result.valid) {
    const e = result.errors.find((x) => !COMPOSITE.has(x.keyword)) ?? result.errors[0];
    const where = dotted(e.instanceLocation);
    if (e.keyword === 'required') {
      const missing = /property "([^"]+)"/.exec(e.error)?.[1] ?? '?';
      throw new ManifestError(`manifest: missing "${where ? `${where}.` : ''}${missing}"`);
    }
    const description = String(schemaNode(e.keywordLocation).description ?? 'what the schema allows');
    const got = JSON.stringify(valueAt(raw, e.instanceLocation))?.slice(0, 80);
    throw new ManifestError(`manifest: "${where || '(top)'}" must be ${description}, got ${got}`);
  }
  const m = raw as unknown as Manifest;
  const files = m.files as Record<string, { bytes: number }>;
  const tokenizerFiles = ['tokenizer', ...(m.tokenizer.kind === 'clip-bpe' ? [m.tokenizer.merges!] : [])];
  if (m.tokenizer.kind === 'clip-bpe' && !(m.tokenizer.merges! in files)) {
    throw new ManifestError(`manifest: "tokenizer.merges" names "${m.tokenizer.merges}", which is not in "files"`);
  }
  for (const key of tokenizerFiles) {
    if (files[key].bytes > MAX_TOKENIZER_BYTES) {
      throw new ManifestError(
        `manifest: "files.${key}.bytes" must be a size of at most ${MAX_TOKENIZER_BYTES} bytes (64 MiB) for a tokenizer file`,
      );
    }
  }
  const { channels: c, height: h, width: w } = m.latent;
  if (c * h * w > MAX_LATENT_VALUES) {
    throw new ManifestError(
      `manifest: "latent" is ${c} x ${h} x ${w}, more than the ${MAX_LATENT_VALUES} values this app allocates for one image`,
    );
  }
  if (m.output.range[0] >= m.output.range[1]) throw new ManifestError('manifest: "output.range" must be [low, high] with low < high');
  for (const [graph, list] of Object.entries(m.external_data ?? {})) {
    if (!(graph in files)) throw new ManifestError(`manifest: "external_data.${graph}" is not a file in "files"`);
    if (!list.every((k) => k in files)) throw new ManifestError(`manifest: "external_data.${graph}" must list keys of "files"`);
  }
  if (m.prompt_embeddings && !(m.prompt_embeddings.file in files)) {
    throw new ManifestError(`manifest: "prompt_embeddings.file" names "${m.prompt_embeddings.file}", which is not in "files"`);
  }
  if (m.teacher && !(m.teacher.file in files)) {
    throw new ManifestError(`manifest: "teacher.file" names "${m.teacher.file}", which is not in "files"`);
  }
  return m;
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
