/**
 * "Add a model by URL": what a person may type, and the hub's URL scheme.
 *   owner/name                           → https://huggingface.co, repository owner/name
 *   https://huggingface.co/owner/name    → the same (a trailing /tree/main/… is ignored)
 *   https://host/owner/name              → any host that answers the hub's URL scheme (a mirror)
 *   http://127.0.0.1:PORT/owner/name     → plain http only for this machine (local tests)
 * Files:  <origin>/<repo>/resolve/<revision>/<path>
 * Lists:  <origin>/api/models/<repo>/tree/<revision>/<folder>   (sizes, and lfs.oid = sha256)
 */
import { InsecureUrlError, LayoutError } from '../../src/shared/errors';

export const DEFAULT_HUB = 'https://huggingface.co';

export interface RepoRef {
  origin: string;
  repo: string;
  revision: string;
}

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);
const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export function parseModelUrl(input: string): RepoRef {
  const text = input.trim();
  if (/^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*$/.test(text)) return { origin: DEFAULT_HUB, repo: text, revision: 'main' };
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new LayoutError(`"${text.slice(0, 80)}" is neither a repository id (owner/name) nor a URL`);
  }
  if (url.protocol === 'http:' && !LOCAL_HOSTS.has(url.hostname)) {
    // Weights fetched over plain http can be swapped in transit, and the page would run them.
    throw new InsecureUrlError(`${url.origin} uses plain http; only https model hosts are allowed`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new InsecureUrlError(`${url.protocol} URLs are not model hosts`);
  if (url.username || url.password) throw new InsecureUrlError('model URLs must not carry credentials');
  const parts = url.pathname.split('/').filter(Boolean);
  if (parts.length < 2 || !SEGMENT.test(parts[0]) || !SEGMENT.test(parts[1])) {
    throw new LayoutError(`${url.href} does not name a repository (expected ${url.origin}/owner/name)`);
  }
  const revision = (parts[2] === 'tree' || parts[2] === 'resolve') && parts[3] ? parts[3] : 'main';
  return { origin: url.origin, repo: `${parts[0]}/${parts[1]}`, revision };
}

export const fileUrl = (ref: RepoRef, path: string) => `${ref.origin}/${ref.repo}/resolve/${encodeURIComponent(ref.revision)}/${path}`;
export const baseUrlOf = (ref: RepoRef) => `${ref.origin}/${ref.repo}/resolve/${encodeURIComponent(ref.revision)}/`;
export const treeUrl = (ref: RepoRef, folder: string) =>
  `${ref.origin}/api/models/${ref.repo}/tree/${encodeURIComponent(ref.revision)}${folder ? `/${folder}` : ''}`;
export const infoUrl = (ref: RepoRef) => `${ref.origin}/api/models/${ref.repo}`;
/** The id an added model is stored under: host and repository, so two hosts never collide. */
export const modelIdOf = (ref: RepoRef) => `${new URL(ref.origin).host}/${ref.repo}`;
