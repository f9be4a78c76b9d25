/** sha256 checks with WebCrypto (present in workers and in Node 20, so it unit-tests as is). */
import { IntegrityError } from '../../src/shared/errors';

export async function sha256Hex(bytes: BufferSource): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Resolves when `bytes` hashes to `expected`, else throws IntegrityError naming `file`. */
export async function verifySha256(file: string, bytes: Uint8Array<ArrayBuffer>, expected: string): Promise<void> {
  const actual = await sha256Hex(bytes);
  if (actual !== expected.toLowerCase()) throw new IntegrityError(file, expected, actual);
}
