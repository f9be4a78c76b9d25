/**
 * Reading a repository over the hub's URL scheme (model-url.ts): JSON and small files, folder
 * listings, the licence, and each file's spec (size and sha256) from the listing. Every failure
 * is a LayoutError naming what was being read.
 */
import { LayoutError } from '../../src/shared/errors';
import type { ManifestFile } from '../../src/shared/types';
import { sha256Hex } from './integrity';
import { fileUrl, infoUrl, treeUrl, type RepoRef } from './model-url';

export interface TreeEntry {
  type: 'file' | 'directory';
  path: string;
  size: number;
  oid?: string;
  lfs?: { oid: string; size: number };
}

export type Fetch = typeof fetch;

/** Small non-LFS files are hashed here; a big file without a published sha256 cannot be checked. */
const HASH_ON_READ_MAX = 32 * 1024 * 1024;

export async function getJson(fetchImpl: Fetch, url: string, what: string): Promise<unknown> {
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

export async function getBytes(fetchImpl: Fetch, url: string, what: string): Promise<Uint8Array<ArrayBuffer>> {
  const res = await fetchImpl(url, { cache: 'no-store' }).catch((err: Error) => {
    throw new LayoutError(`${what}: network error (${err.message})`);
  });
  if (!res.ok) throw new LayoutError(`${what}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

/** One folder's listing (not recursive, like the hub's default). */
async function listFolder(ref: RepoRef, folder: string, fetchImpl: Fetch = fetch): Promise<TreeEntry[]> {
  const raw = await getJson(fetchImpl, treeUrl(ref, folder), `${ref.repo}/${folder || '(root)'} listing`);
  if (!Array.isArray(raw)) throw new LayoutError(`${ref.repo}: the tree listing of "${folder}" is not a list`);
  return raw as TreeEntry[];
}

/** Every file under the given folders, by path. Missing folders are simply absent. */
export async function listFiles(ref: RepoRef, folders: string[], fetchImpl: Fetch): Promise<Map<string, TreeEntry>> {
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

export async function licenseOf(ref: RepoRef, fetchImpl: Fetch, fallback: string | undefined): Promise<string> {
  try {
    const info = (await getJson(fetchImpl, infoUrl(ref), 'model info')) as { cardData?: { license?: string }; tags?: string[] };
    const tag = info.tags?.find((t) => t.startsWith('license:'))?.slice('license:'.length);
    return info.cardData?.license ?? tag ?? fallback ?? 'unknown';
  } catch {
    return fallback ?? 'unknown';
  }
}

/** A file spec from the listing; non-LFS files are downloaded (they are small) and hashed. */
export async function fileSpec(ref: RepoRef, entry: TreeEntry, fetchImpl: Fetch, cache: Map<string, Uint8Array>): Promise<ManifestFile> {
  if (entry.lfs?.oid && /^[0-9a-f]{64}$/.test(entry.lfs.oid))
    return { path: entry.path, bytes: entry.lfs.size ?? entry.size, sha256: entry.lfs.oid };
  if (entry.size > HASH_ON_READ_MAX) {
    throw new LayoutError(
      `${entry.path} (${entry.size} bytes) is not stored with LFS, so the hub publishes no sha256 for it and it cannot be verified`,
    );
  }
  const bytes = await getBytes(fetchImpl, fileUrl(ref, entry.path), entry.path);
  cache.set(entry.path, bytes);
  return { path: entry.path, bytes: bytes.byteLength, sha256: await sha256Hex(bytes) };
}
