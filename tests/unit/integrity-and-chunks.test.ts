import { describe, expect, it } from 'vitest';
import { CHUNK_BYTES, joinChunks, splitIntoChunks } from '../../workers/model-store/chunks';
import { sha256Hex, verifySha256 } from '../../workers/model-store/integrity';

describe('sha256', () => {
  it('matches known vectors', async () => {
    expect(await sha256Hex(new Uint8Array())).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(await sha256Hex(new TextEncoder().encode('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('throws a named IntegrityError on a mismatch', async () => {
    const bytes = new TextEncoder().encode('abc');
    await expect(verifySha256('unet', bytes, 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')).resolves.toBeUndefined();
    bytes[0] ^= 1;
    await expect(verifySha256('unet', bytes, 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')).rejects.toMatchObject({
      name: 'IntegrityError',
      file: 'unet',
    });
  });
});

describe('chunks', () => {
  const data = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7) & 0xff);

  it('splits into fixed-size chunks with a short last one, and joins back exactly', () => {
    const chunks = splitIntoChunks(data, 256);
    expect(chunks.map((c) => c.byteLength)).toEqual([256, 256, 256, 232]);
    expect(joinChunks(chunks, 1000)).toEqual(data);
  });

  it('handles exact multiples, one chunk and empty input', () => {
    expect(splitIntoChunks(data, 500).length).toBe(2);
    expect(splitIntoChunks(data, 4096).length).toBe(1);
    expect(splitIntoChunks(new Uint8Array(0), 16)).toEqual([]);
  });

  it('copies: chunks do not alias the source', () => {
    const chunks = splitIntoChunks(data, 256);
    new Uint8Array(chunks[0])[0] = 99;
    expect(data[0]).toBe(0);
  });

  it('refuses chunks that do not add up', () => {
    const chunks = splitIntoChunks(data, 256);
    expect(() => joinChunks(chunks.slice(0, 3), 1000)).toThrow(RangeError);
  });

  it('keeps every chunk of a 90 MB model under the IndexedDB per-value limit', () => {
    const chunks = splitIntoChunks(new Uint8Array(45_320_300));
    expect(CHUNK_BYTES).toBeLessThan(127 * 1024 * 1024);
    expect(chunks.every((c) => c.byteLength <= CHUNK_BYTES)).toBe(true);
    expect(chunks.length).toBe(Math.ceil(45_320_300 / CHUNK_BYTES)); // 11 chunks of 4 MiB
  });
});
