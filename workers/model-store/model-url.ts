/**
 * "Add a model by URL": what a person may type, and the hub's URL scheme.
 *   owner/name                           → https://huggingface.co, repository owner/name
 *   https://huggingface.co/owner/name    → the same (a trailing /tree/main/… is ignored)
 *   https://host/owner/name              → another hub with the same URL scheme, only if this build
 *                                          allows it (config.ts MODEL_HUBS, which the CSP mirrors)
 *   http://127.0.0.1:PORT/owner/name     → plain http only for this machine, and only in test builds
 *                                          (config.ts LOOPBACK_MODEL_HOSTS: the e2e suite's local hub)
 * Files:  <origin>/<repo>/resolve/<revision>/<path>
 * Lists:  <origin>/api/models/<repo>/tree/<revision>/<folder>   (sizes, and lfs.oid = sha256)
 */
import { LOOPBACK_MODEL_HOSTS, MODEL_HUBS } from '../../src/shared/config';
import { HostNotAllowedError, InsecureUrlError, LayoutError } from '../../src/shared/errors';

export const DEFAULT_HUB = 'https://huggingface.co';

export interface RepoRef {
  origin: string;
  repo: string;
  revision: string;
}

/** Which hubs a URL may name. The defaults are this build's (and match its CSP's connect-src). */
export interface HostPolicy {
  hubs: readonly string[];
  /** http://127.0.0.1:* and http://localhost:* (test builds only). */
  loopback: boolean;
}

export const BUILD_HOST_POLICY: HostPolicy = { hubs: MODEL_HUBS, loopback: LOOPBACK_MODEL_HOSTS };

// No [::1]: CSP source expressions cannot name an IPv6 literal, so the page could not reach it.
const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1']);
const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
// The hub caps owner and repository names at 96 characters; a longer one is junk, and would only
// make long requests and long storage keys.
const MAX_SEGMENT = 96;
const MAX_REVISION = 128;

function checkRepo(owner: string, name: string, shown: string): string {
  if (!SEGMENT.test(owner) || !SEGMENT.test(name)) throw new LayoutError(`${shown} does not name a repository (expected owner/name)`);
  if (owner.length > MAX_SEGMENT || name.length > MAX_SEGMENT) {
    throw new LayoutError(
      `"${shown.slice(0, 60)}…" is too long for a repository id (owner and name have at most ${MAX_SEGMENT} characters each)`,
    );
  }
  return `${owner}/${name}`;
}

export function parseModelUrl(input: string, policy: HostPolicy = BUILD_HOST_POLICY): RepoRef {
  const text = input.trim();
  if (/^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*$/.test(text)) {
    if (!policy.hubs.includes(DEFAULT_HUB)) throw new HostNotAllowedError(`${DEFAULT_HUB} is not a model host of this build`);
    const [owner, name] = text.split('/');
    return { origin: DEFAULT_HUB, repo: checkRepo(owner, name, text), revision: 'main' };
  }
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
  // Checked before any request: the CSP would block the fetch anyway, with a far less clear error.
  const allowed = url.protocol === 'http:' ? policy.loopback : policy.hubs.includes(url.origin);
  if (!allowed) {
    throw new HostNotAllowedError(
      url.protocol === 'http:'
        ? `${url.origin} is a local test server, which only test builds may use`
        : `${url.origin} is not a model host of this build (allowed: ${policy.hubs.join(', ')})`,
    );
  }
  const parts = url.pathname.split('/').filter(Boolean);
  if (parts.length < 2) throw new LayoutError(`${url.href.slice(0, 120)} does not name a repository (expected ${url.origin}/owner/name)`);
  const repo = checkRepo(parts[0], parts[1], url.href.slice(0, 120));
  const revision = (parts[2] === 'tree' || parts[2] === 'resolve') && parts[3] ? decodeURIComponentSafe(parts[3]) : 'main';
  if (revision.length > MAX_REVISION || /\p{Cc}/u.test(revision))
    throw new LayoutError(`the revision in ${url.href.slice(0, 120)} is not a branch, tag or commit name`);
  return { origin: url.origin, repo, revision };
}

function decodeURIComponentSafe(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

export const fileUrl = (ref: RepoRef, path: string) => `${ref.origin}/${ref.repo}/resolve/${encodeURIComponent(ref.revision)}/${path}`;
export const baseUrlOf = (ref: RepoRef) => `${ref.origin}/${ref.repo}/resolve/${encodeURIComponent(ref.revision)}/`;
export const treeUrl = (ref: RepoRef, folder: string) =>
  `${ref.origin}/api/models/${ref.repo}/tree/${encodeURIComponent(ref.revision)}${folder ? `/${folder}` : ''}`;
export const infoUrl = (ref: RepoRef) => `${ref.origin}/api/models/${ref.repo}`;
/** The id an added model is stored under: host and repository, so two hosts never collide. */
export const modelIdOf = (ref: RepoRef) => `${new URL(ref.origin).host}/${ref.repo}`;
