/**
 * Adding a model by URL, before any weight is downloaded: read the repository's layout (small JSON
 * files), show the person a plan (size, licence, files, what this device says), and, when they
 * confirm, hand back the very layout they were shown, or refuse one that changed since.
 * Downloading and loading are the Generator's (they share its queue with every other load).
 */
import { LayoutError } from '../../src/shared/errors';
import type { Manifest, ModelIndexEntry, RemoteModelPlan } from '../../src/shared/types';
import { checkDevice, type DeviceNeeds } from '../runtime/device-check';
import { deleteCached, storedBytes } from './idb-cache';
import { fileKey } from './load-file';
import { readIndex } from './manifest';
import { parseModelUrl } from './model-url';
import { planFingerprint, readRemoteModel, type RemoteModel } from './remote-layout';

/**
 * What the device check needs from a manifest. Files already stored are not downloaded again, and
 * neither are the stored chunks of an interrupted download (it resumes after them).
 */
export async function deviceNeeds(manifest: Manifest): Promise<DeviceNeeds> {
  const files = Object.entries(manifest.files);
  let downloadBytes = 0;
  for (const [key, f] of files) {
    const have = await storedBytes(fileKey(manifest, key), f.sha256, f.bytes).catch(() => 0);
    downloadBytes += f.bytes - have;
  }
  const largest = files.map(([, f]) => f).reduce((a, b) => (b.bytes > a.bytes ? b : a));
  const req = manifest.requirements ?? {};
  return {
    webgpuFeatures: req.webgpu_features ?? [],
    wasmOk: req.wasm !== false,
    maxTensorBytes: req.max_tensor_bytes,
    largestFile: { path: largest.path, bytes: largest.bytes },
    downloadBytes,
  };
}

export class UrlModels {
  /** Models read from a URL and shown to the person, waiting for "download". */
  private readonly inspected = new Map<string, RemoteModel>();

  /** `modelsBase`: the shipped models' folder, whose index names the known exports. */
  constructor(private readonly modelsBase: () => string) {}

  /**
   * Reads a model's layout from a URL or repository id and checks this device against it, without
   * downloading model weights. URL and layout problems throw (InsecureUrlError, LayoutError, …);
   * a device that cannot run the model gets the plan with `refusal` set, so size and licence show too.
   */
  async inspect(input: string): Promise<RemoteModelPlan> {
    const remote = await this.readLayout(input);
    this.inspected.set(remote.id, remote);
    const refusal = await checkDevice(await deviceNeeds(remote.manifest));
    const m = remote.manifest;
    return {
      id: remote.id,
      name: m.name,
      license: remote.license,
      licenseUrl: remote.licenseUrl,
      source: remote.source,
      totalBytes: Object.values(m.files).reduce((s, f) => s + f.bytes, 0),
      files: Object.entries(m.files).map(([key, f]) => ({ key, path: f.path, bytes: f.bytes })),
      rule: m.one_step.rule,
      webgpuFeatures: m.requirements?.webgpu_features ?? [],
      assumed: remote.assumed,
      refusal: refusal ? { name: refusal.name, message: refusal.message } : null,
      fingerprint: planFingerprint(remote),
    };
  }

  /**
   * The layout of the plan the person confirmed. `input` is what that plan was read from: a worker
   * that replaced a crashed one never saw the plan, so it reads the layout again, and refuses a
   * repository whose licence or files are no longer those the person was shown. The device is
   * checked again too: storage and the GPU may have changed since the plan was read.
   */
  async confirmed(id: string, input: string, fingerprint: string): Promise<RemoteModel> {
    const remote = this.inspected.get(id) ?? (await this.readLayout(input));
    if (remote.id !== id || planFingerprint(remote) !== fingerprint) {
      throw new LayoutError(`${input.trim()} changed since it was checked (its licence or files differ); check it again`);
    }
    const refusal = await checkDevice(await deviceNeeds(remote.manifest));
    if (refusal) throw refusal;
    return remote;
  }

  /** The plan was added: it is no longer waiting. */
  done(id: string): void {
    this.inspected.delete(id);
  }

  /** The layout behind a URL or repository id (small JSON files; no weights). */
  private async readLayout(input: string): Promise<RemoteModel> {
    const ref = parseModelUrl(input);
    const index = await readIndex(this.modelsBase()).catch(() => [] as ModelIndexEntry[]);
    const known = index.find((e) => e.url && (e.url === ref.repo || e.url === `${ref.origin}/${ref.repo}`));
    return readRemoteModel(ref, known);
  }
}

/**
 * Files that arrived whole but are not what the pipeline can run (not ONNX, not a tokenizer,
 * tensors the manifest does not name) are of no use later: none stays stored. Interrupted or
 * stopped downloads keep their chunks, so a retry resumes.
 */
export async function forgetUnusableFiles(manifest: Manifest, err: unknown): Promise<void> {
  if (!['LayoutError', 'ManifestError'].includes((err as Error | null)?.name ?? '')) return;
  await Promise.all(Object.keys(manifest.files).map((k) => deleteCached(fileKey(manifest, k)).catch(() => undefined)));
}
