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
import { alphasCumprod, sigmaOf } from '../pipeline/schedule';
import { fileSpec, getBytes, getJson, licenseOf, listFiles, type Fetch, type TreeEntry } from './hub-files';
import { validateManifest } from './manifest';
import { baseUrlOf, fileUrl, modelIdOf, type RepoRef } from './model-url';

export type { TreeEntry } from './hub-files';

export interface RemoteModel {
  id: string;
  manifest: Manifest;
  baseUrl: string;
  source: string;
  license: string;
  licenseUrl: string | null;
  assumed: string[];
}

const SD_SCALING = 0.18215;
const EXTERNAL_DATA = /(\.onnx_data|\.onnx\.data|^weights\.pb)$/;

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

async function fromManifest(
  ref: RepoRef,
  id: string,
  source: string,
  root: Map<string, TreeEntry>,
  known: ModelIndexEntry | undefined,
  fetchImpl: Fetch,
): Promise<RemoteModel> {
  let manifest: Manifest;
  try {
    manifest = validateManifest(await getJson(fetchImpl, fileUrl(ref, 'manifest.json'), 'manifest.json'));
  } catch (err) {
    if (err instanceof ManifestError) throw new LayoutError(`${ref.repo}/manifest.json is not a valid Onestep manifest (${err.message})`);
    throw err;
  }
  const folders = [...new Set(Object.values(manifest.files).map((f) => f.path.split('/').slice(0, -1).join('/')))];
  const listed = new Map([...root, ...(await listFiles(ref, folders.filter(Boolean), fetchImpl))]);
  const missing = Object.values(manifest.files)
    .filter((f) => !listed.has(f.path))
    .map((f) => f.path);
  if (missing.length) throw new LayoutError(`${ref.repo} lacks ${missing.join(', ')}, which its manifest lists`);
  for (const f of Object.values(manifest.files)) {
    const e = listed.get(f.path)!;
    const size = e.lfs?.size ?? e.size;
    if (size !== f.bytes) throw new LayoutError(`${f.path}: the repository holds ${size} bytes, the manifest says ${f.bytes}`);
    // The hub's own hash of the stored file must agree with the manifest before we fetch a byte.
    if (e.lfs?.oid && e.lfs.oid !== f.sha256) throw new IntegrityError(f.path, f.sha256, e.lfs.oid);
  }
  const license =
    typeof manifest.license === 'object' && manifest.license && 'weights' in manifest.license
      ? String((manifest.license as { weights: unknown }).weights)
      : await licenseOf(ref, fetchImpl, known?.license);
  const licenseUrl = (manifest.license as { url?: string } | undefined)?.url ?? null;
  return { id, manifest: { ...manifest, id }, baseUrl: baseUrlOf(ref), source, license, licenseUrl, assumed: [] };
}

async function synthesize(
  ref: RepoRef,
  id: string,
  source: string,
  root: Map<string, TreeEntry>,
  known: ModelIndexEntry | undefined,
  fetchImpl: Fetch,
): Promise<RemoteModel> {
  const files = await listFiles(ref, ['text_encoder', 'unet', 'vae_decoder', 'tokenizer', 'scheduler'], fetchImpl);
  for (const [k, v] of root) files.set(k, v);
  const hasJsonTok = files.has('tokenizer/tokenizer.json');
  const needed = [
    'model_index.json',
    'text_encoder/model.onnx',
    'unet/model.onnx',
    'vae_decoder/model.onnx',
    ...(hasJsonTok ? [] : ['tokenizer/vocab.json', 'tokenizer/merges.txt']),
  ];
  const missing = needed.filter((p) => !files.has(p));
  if (missing.length) {
    throw new LayoutError(
      `${ref.repo} lacks ${missing.join(', ')}: it is not a one-step Stable Diffusion export in the diffusers ONNX layout`,
    );
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
  const maxLength =
    Number(tokConfig.model_max_length) > 0 && Number(tokConfig.model_max_length) < 4096 ? Number(tokConfig.model_max_length) : 77;
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
  if (!known?.one_step_rule)
    assumed.push(
      `the ${rule === 'euler' ? 'SD-Turbo (Euler)' : 'DMD2 (DDPM)'} one-step rule at t = 999, from ${schedulerClass || 'no scheduler class'}`,
    );
  const t = 999;
  const ab = alphasCumprod({
    beta_start: Number(scheduler.beta_start ?? 0.00085),
    beta_end: Number(scheduler.beta_end ?? 0.012),
    num_train_timesteps: Number(scheduler.num_train_timesteps ?? 1000),
  })[t];
  const sigma = sigmaOf(ab);
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
      text_encoder: {
        inputs: { input_ids: { dtype: 'int32', shape: ['batch_size', maxLength] } },
        outputs: { last_hidden_state: { dtype: fdt, shape: ['batch_size', maxLength, 'hidden'] } },
      },
      unet: {
        inputs: {
          sample: { dtype: fdt, shape: [1, channels, lat, lat] },
          timestep: { dtype: 'int64', shape: [1] },
          encoder_hidden_states: { dtype: fdt, shape: [1, maxLength, 'hidden'] },
        },
        outputs: { out_sample: { dtype: fdt, shape: [1, channels, lat, lat] } },
      },
      vae_decoder: {
        inputs: { latent_sample: { dtype: fdt, shape: [1, channels, lat, lat] } },
        outputs: { sample: { dtype: fdt, shape: [1, 3, lat * factor, lat * factor] } },
      },
    },
    latent: { channels, height: lat, width: lat },
    output: { width: lat * factor, height: lat * factor, range: [-1, 1] },
    one_step:
      rule === 'euler'
        ? {
            rule,
            timestep: t,
            alpha_bar: ab,
            sigma,
            noise_scale: sigma,
            input_scale: 1 / Math.sqrt(sigma * sigma + 1),
            prediction_type: 'epsilon',
          }
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
  return {
    id,
    manifest: { ...manifest, license: { weights: license } },
    baseUrl: baseUrlOf(ref),
    source,
    license,
    licenseUrl: null,
    assumed,
  };
}
