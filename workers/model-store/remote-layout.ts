/**
 * Reads a repository in the diffusers/optimum ONNX layout (over the hub's URL scheme) into a
 * validated Manifest, downloading no model weights: the tree listing gives every file's size and,
 * for LFS files, its sha256 (lfs.oid); small files (tokenizer, configs) are read and hashed here.
 *
 * A repository that carries our manifest.json (written by training/factory/convert_diffusers.py)
 * is taken at its word, after checking that the listing agrees with it. One without (the published
 * SD-Turbo exports) gets a manifest built from model_index.json, the scheduler and component configs
 * and, for known repositories, the facts in public/models/index.json; whatever had to be assumed is
 * listed in `assumed` and shown to the person.
 */
import { IntegrityError, LayoutError, ManifestError } from '../../src/shared/errors';
import type { Manifest, ManifestFile, ModelIndexEntry } from '../../src/shared/types';
import { sha256Hex } from './integrity';
import { validateManifest } from './manifest';
import { baseUrlOf, fileUrl, infoUrl, modelIdOf, treeUrl, type RepoRef } from './model-url';

export interface TreeEntry {
  type: 'file' | 'directory';
  path: string;
  size: number;
  oid?: string;
  lfs?: { oid: string; size: number };
}

export interface RemoteModel {
  id: string;
  manifest: Manifest;
  baseUrl: string;
  source: string;
  license: string;
  licenseUrl: string | null;
  assumed: string[];
}

type Fetch = typeof fetch;

/** Small non-LFS files are hashed here; a big file without a published sha256 cannot be checked. */
const HASH_ON_READ_MAX = 32 * 1024 * 1024;
const SD_SCALING = 0.18215;
const EXTERNAL_DATA = /(\.onnx_data|\.onnx\.data|^weights\.pb)$/;

async function getJson(fetchImpl: Fetch, url: string, what: string): Promise<unknown> {
  let res: Response;
  try {
    res = await fetchImpl(url, { cache: 'no-store' });
  } catch (err) {
    throw new LayoutError(`${what}: network error (${(err as Error).message})`);
  }
  if (res.status === 404 || res.status === 401) throw new LayoutError(`${what}: not found (HTTP ${res.status})`);
  if (!res.ok) throw new LayoutError(`${what}: HTTP ${res.status}`);
  try {
    return await res.json();
  } catch {
    throw new LayoutError(`${what}: not JSON`);
  }
}

async function getBytes(fetchImpl: Fetch, url: string, what: string): Promise<Uint8Array<ArrayBuffer>> {
  const res = await fetchImpl(url, { cache: 'no-store' }).catch((err: Error) => {
    throw new LayoutError(`${what}: network error (${err.message})`);
  });
  if (!res.ok) throw new LayoutError(`${what}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

/** One folder's listing (not recursive, like the hub's default). */
export async function listFolder(ref: RepoRef, folder: string, fetchImpl: Fetch = fetch): Promise<TreeEntry[]> {
  const raw = await getJson(fetchImpl, treeUrl(ref, folder), `${ref.repo}/${folder || '(root)'} listing`);
  if (!Array.isArray(raw)) throw new LayoutError(`${ref.repo}: the tree listing of "${folder}" is not a list`);
  return raw as TreeEntry[];
}

/** Every file under the given folders, by path. Missing folders are simply absent. */
async function listFiles(ref: RepoRef, folders: string[], fetchImpl: Fetch): Promise<Map<string, TreeEntry>> {
  const out = new Map<string, TreeEntry>();
  for (const folder of folders) {
    let entries: TreeEntry[];
    try {
      entries = await listFolder(ref, folder, fetchImpl);
    } catch (err) {
      if (folder === '') throw err; // the repository itself is not there
      continue;
    }
    for (const e of entries) if (e.type === 'file') out.set(e.path, e);
  }
  return out;
}

async function licenseOf(ref: RepoRef, fetchImpl: Fetch, fallback: string | undefined): Promise<string> {
  try {
    const info = (await getJson(fetchImpl, infoUrl(ref), 'model info')) as { cardData?: { license?: string }; tags?: string[] };
    const tag = info.tags?.find((t) => t.startsWith('license:'))?.slice('license:'.length);
    return info.cardData?.license ?? tag ?? fallback ?? 'unknown';
  } catch {
    return fallback ?? 'unknown';
  }
}

/** A file spec from the listing; non-LFS files are downloaded (they are small) and hashed. */
async function fileSpec(ref: RepoRef, entry: TreeEntry, fetchImpl: Fetch, cache: Map<string, Uint8Array>): Promise<ManifestFile> {
  if (entry.lfs?.oid && /^[0-9a-f]{64}$/.test(entry.lfs.oid)) return { path: entry.path, bytes: entry.lfs.size ?? entry.size, sha256: entry.lfs.oid };
  if (entry.size > HASH_ON_READ_MAX) {
    throw new LayoutError(`${entry.path} (${entry.size} bytes) is not stored with LFS, so the hub publishes no sha256 for it and it cannot be verified`);
  }
  const bytes = await getBytes(fetchImpl, fileUrl(ref, entry.path), entry.path);
  cache.set(entry.path, bytes);
  return { path: entry.path, bytes: bytes.byteLength, sha256: await sha256Hex(bytes) };
}

/** What a person agrees to in a plan: the licence and every file (key, path, size, sha256). */
export function planFingerprint(remote: Pick<RemoteModel, 'license' | 'manifest'>): string {
  const files = Object.entries(remote.manifest.files)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, f]) => [key, f.path, f.bytes, f.sha256]);
  return JSON.stringify([remote.license, files]);
}

/** Reads `ref` into a runnable manifest. `known` is the index.json entry for this repository, if any. */
export async function readRemoteModel(ref: RepoRef, known?: ModelIndexEntry, fetchImpl: Fetch = fetch): Promise<RemoteModel> {
  const root = await listFiles(ref, [''], fetchImpl).catch((err: Error) => {
    throw new LayoutError(`${ref.repo} at ${ref.origin}: ${err.message.replace(/^.*?: /, '')}; is the repository id right and public?`);
  });
  const source = `${ref.origin}/${ref.repo}`;
  const id = modelIdOf(ref);
  if (root.has('manifest.json')) return fromManifest(ref, id, source, root, known, fetchImpl);
  return synthesize(ref, id, source, root, known, fetchImpl);
}

async function fromManifest(ref: RepoRef, id: string, source: string, root: Map<string, TreeEntry>, known: ModelIndexEntry | undefined, fetchImpl: Fetch): Promise<RemoteModel> {
  let manifest: Manifest;
  try {
    manifest = validateManifest(await getJson(fetchImpl, fileUrl(ref, 'manifest.json'), 'manifest.json'));
  } catch (err) {
    if (err instanceof ManifestError) throw new LayoutError(`${ref.repo}/manifest.json is not a valid Onestep manifest (${err.message})`);
    throw err;
  }
  const folders = [...new Set(Object.values(manifest.files).map((f) => f.path.split('/').slice(0, -1).join('/')))];
  const listed = new Map([...root, ...(await listFiles(ref, folders.filter(Boolean), fetchImpl))]);
  const missing = Object.values(manifest.files).filter((f) => !listed.has(f.path)).map((f) => f.path);
  if (missing.length) throw new LayoutError(`${ref.repo} lacks ${missing.join(', ')}, which its manifest lists`);
  for (const f of Object.values(manifest.files)) {
    const e = listed.get(f.path)!;
    const size = e.lfs?.size ?? e.size;
    if (size !== f.bytes) throw new LayoutError(`${f.path}: the repository holds ${size} bytes, the manifest says ${f.bytes}`);
    // The hub's own hash of the stored file must agree with the manifest before we fetch a byte.
    if (e.lfs?.oid && e.lfs.oid !== f.sha256) throw new IntegrityError(f.path, f.sha256, e.lfs.oid);
  }
  const license = typeof manifest.license === 'object' && manifest.license && 'weights' in manifest.license
    ? String((manifest.license as { weights: unknown }).weights)
    : await licenseOf(ref, fetchImpl, known?.license);
  const licenseUrl = (manifest.license as { url?: string } | undefined)?.url ?? null;
  return { id, manifest: { ...manifest, id }, baseUrl: baseUrlOf(ref), source, license, licenseUrl, assumed: [] };
}

/** Scaled-linear ᾱ_t, as diffusers' schedulers compute it (float64). */
export function alphaBarAt(t: number, betaStart = 0.00085, betaEnd = 0.012, n = 1000): number {
  const a = Math.sqrt(betaStart);
  const b = Math.sqrt(betaEnd);
  let prod = 1;
  for (let i = 0; i <= t; i++) {
    const s = a + ((b - a) * i) / (n - 1);
    prod *= 1 - s * s;
  }
  return prod;
}

async function synthesize(ref: RepoRef, id: string, source: string, root: Map<string, TreeEntry>, known: ModelIndexEntry | undefined, fetchImpl: Fetch): Promise<RemoteModel> {
  const files = await listFiles(ref, ['text_encoder', 'unet', 'vae_decoder', 'tokenizer', 'scheduler'], fetchImpl);
  for (const [k, v] of root) files.set(k, v);
  const hasJsonTok = files.has('tokenizer/tokenizer.json');
  const needed = ['model_index.json', 'text_encoder/model.onnx', 'unet/model.onnx', 'vae_decoder/model.onnx',
    ...(hasJsonTok ? [] : ['tokenizer/vocab.json', 'tokenizer/merges.txt'])];
  const missing = needed.filter((p) => !files.has(p));
  if (missing.length) {
    throw new LayoutError(`${ref.repo} lacks ${missing.join(', ')}: it is not a one-step Stable Diffusion export in the diffusers ONNX layout`);
  }
  const read = new Map<string, Uint8Array>();
  const json = async (path: string): Promise<Record<string, unknown> | null> => {
    if (!files.has(path)) return null;
    const bytes = read.get(path) ?? (await getBytes(fetchImpl, fileUrl(ref, path), path));
    read.set(path, bytes);
    try {
      return JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
    } catch {
      throw new LayoutError(`${path} is not JSON`);
    }
  };
  const assumed: string[] = [];
  const index = await json('model_index.json');
  if (!index?._class_name) throw new LayoutError(`${ref.repo}/model_index.json names no pipeline class`);

  const spec: Record<string, ManifestFile> = {};
  const add = async (key: string, path: string) => (spec[key] = await fileSpec(ref, files.get(path)!, fetchImpl, read));
  if (hasJsonTok) await add('tokenizer', 'tokenizer/tokenizer.json');
  else {
    await add('tokenizer', 'tokenizer/vocab.json');
    await add('tokenizer_merges', 'tokenizer/merges.txt');
  }
  const external: Record<string, string[]> = {};
  for (const graph of ['text_encoder', 'unet', 'vae_decoder']) {
    await add(graph, `${graph}/model.onnx`);
    const data = [...files.keys()].filter((p) => p.startsWith(`${graph}/`) && EXTERNAL_DATA.test(p.slice(graph.length + 1)));
    for (const [i, p] of data.entries()) {
      const key = `${graph}_data${i ? i + 1 : ''}`;
      await add(key, p);
      (external[graph] ??= []).push(key);
    }
  }

  const tokConfig = (await json('tokenizer/tokenizer_config.json')) ?? {};
  const specialMap = (await json('tokenizer/special_tokens_map.json')) ?? {};
  const maxLength = Number(tokConfig.model_max_length) > 0 && Number(tokConfig.model_max_length) < 4096 ? Number(tokConfig.model_max_length) : 77;
  const padToken = specialMap.pad_token ?? tokConfig.pad_token ?? '<|endoftext|>';
  const padText = typeof padToken === 'string' ? padToken : String((padToken as { content?: string }).content ?? '<|endoftext|>');
  let padId = 49407;
  if (!hasJsonTok) {
    const vocab = JSON.parse(new TextDecoder().decode(read.get('tokenizer/vocab.json')!)) as Record<string, number>;
    if (vocab[padText] === undefined) throw new LayoutError(`tokenizer: the pad token "${padText}" is not in vocab.json`);
    padId = vocab[padText];
  } else {
    assumed.push(`pad id ${padId} (CLIP's <|endoftext|>)`);
  }

  const scheduler = (await json('scheduler/scheduler_config.json')) ?? {};
  const unetConfig = (await json('unet/config.json')) ?? {};
  const vaeConfig = (await json('vae_decoder/config.json')) ?? {};
  if (!files.has('scheduler/scheduler_config.json')) assumed.push('scaled-linear betas 0.00085→0.012 (no scheduler config)');
  const schedulerClass = String(scheduler._class_name ?? '');
  const rule = known?.one_step_rule ?? (schedulerClass.startsWith('Euler') ? 'euler' : 'ddpm');
  if (!known?.one_step_rule) assumed.push(`the ${rule === 'euler' ? 'SD-Turbo (Euler)' : 'DMD2 (DDPM)'} one-step rule at t = 999, from ${schedulerClass || 'no scheduler class'}`);
  const t = 999;
  const ab = alphaBarAt(t, Number(scheduler.beta_start ?? 0.00085), Number(scheduler.beta_end ?? 0.012), Number(scheduler.num_train_timesteps ?? 1000));
  const sigma = Math.sqrt((1 - ab) / ab);
  const lat = Number(unetConfig.sample_size ?? 64);
  const channels = Number(unetConfig.in_channels ?? 4);
  if (!unetConfig.sample_size) assumed.push('64×64 latents (512×512 images; no unet/config.json)');
  const factor = Array.isArray(vaeConfig.block_out_channels) ? 2 ** (vaeConfig.block_out_channels.length - 1) : 8;
  const scaling = Number(vaeConfig.scaling_factor ?? SD_SCALING);
  const requirements = known?.requirements ?? { webgpu_features: ['shader-f16'], fp16_compute: true, wasm: false };
  if (!known?.requirements) assumed.push('float16 graphs that need WebGPU with shader-f16 (every published web export is fp16)');
  const fdt = requirements.fp16_compute ? 'float16' : 'float32';

  const manifest = validateManifest({
    schema: 1,
    id,
    version: (files.get('unet/model.onnx')?.lfs?.oid ?? 'remote').slice(0, 12),
    name: known?.name ?? ref.repo,
    license: { weights: known?.license ?? 'unknown' },
    files: spec,
    tokenizer: hasJsonTok
      ? { kind: 'tokenizers-json', max_length: maxLength, pad_id: padId }
      : { kind: 'clip-bpe', merges: 'tokenizer_merges', max_length: maxLength, pad_id: padId },
    // The optimum names; dtypes here are a default, the session's own metadata decides at run time.
    tensors: {
      text_encoder: { inputs: { input_ids: { dtype: 'int32', shape: ['batch_size', maxLength] } }, outputs: { last_hidden_state: { dtype: fdt, shape: ['batch_size', maxLength, 'hidden'] } } },
      unet: {
        inputs: {
          sample: { dtype: fdt, shape: [1, channels, lat, lat] },
          timestep: { dtype: 'int64', shape: [1] },
          encoder_hidden_states: { dtype: fdt, shape: [1, maxLength, 'hidden'] },
        },
        outputs: { out_sample: { dtype: fdt, shape: [1, channels, lat, lat] } },
      },
      vae_decoder: { inputs: { latent_sample: { dtype: fdt, shape: [1, channels, lat, lat] } }, outputs: { sample: { dtype: fdt, shape: [1, 3, lat * factor, lat * factor] } } },
    },
    latent: { channels, height: lat, width: lat },
    output: { width: lat * factor, height: lat * factor, range: [-1, 1] },
    one_step: rule === 'euler'
      ? { rule, timestep: t, alpha_bar: ab, sigma, noise_scale: sigma, input_scale: 1 / Math.sqrt(sigma * sigma + 1), prediction_type: 'epsilon' }
      : { rule, timestep: t, alpha_bar: ab, noise_scale: 1, input_scale: 1, prediction_type: 'epsilon' },
    vae: { scaling_factor: scaling },
    requirements,
    ...(Object.keys(external).length ? { external_data: external } : {}),
    // The overrides of the onnxruntime SD-Turbo example (its comment: pinning sequence_length on the
    // text encoder gives a bad image, so only the batch is pinned there).
    runtime: {
      max_batch: 1,
      free_dimension_overrides: {
        text_encoder: { batch_size: 1 },
        unet: { batch_size: 1, num_channels: channels, height: lat, width: lat, sequence_length: maxLength },
        vae_decoder: { batch_size: 1, num_channels_latent: channels, height_latent: lat, width_latent: lat },
      },
    },
  });
  const license = await licenseOf(ref, fetchImpl, known?.license);
  return { id, manifest: { ...manifest, license: { weights: license } }, baseUrl: baseUrlOf(ref), source, license, licenseUrl: null, assumed };
}
