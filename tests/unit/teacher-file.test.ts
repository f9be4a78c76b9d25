import { describe, expect, it } from 'vitest';
import type { LoadedFile } from '../../workers/model-store/load-file';
import { teacherFile } from '../../workers/model-store/teacher-file';

const quiet = () => undefined;

/** A loader that counts its calls; the first `failures` calls reject like a dropped connection. */
function loader(failures = 0) {
  const calls = { n: 0 };
  const load = async (): Promise<LoadedFile> => {
    calls.n += 1;
    if (calls.n <= failures) throw new Error('connection reset');
    return { bytes: new Uint8Array(1024), source: 'network', discarded: false, cached: true, notStored: null, resumedFrom: 256 };
  };
  return { load, calls };
}

describe('the teacher file for compare', () => {
  it('is fetched once for the prefetch and the session, however often it is asked for', async () => {
    const { load, calls } = loader();
    const f = teacherFile(load);
    const [info, bytes] = await Promise.all([f.info(quiet), f.bytes(quiet)]);
    expect(calls.n).toBe(1);
    expect(bytes.byteLength).toBe(1024);
    expect(info).toEqual({ source: 'network', discarded: false, cached: true, notStored: null, resumedFrom: 256 });
    expect(info).not.toHaveProperty('bytes');
  });

  it('forgets a failed fetch, so the next ask tries again', async () => {
    const { load, calls } = loader(1);
    const f = teacherFile(load);
    await expect(f.info(quiet)).rejects.toThrow('connection reset');
    expect((await f.bytes(quiet)).byteLength).toBe(1024);
    expect(calls.n).toBe(2);
  });

  it('lets the bytes go once the session exists, and still reports where the file came from', async () => {
    const { load, calls } = loader();
    const f = teacherFile(load);
    await f.bytes(quiet);
    f.sessionMade();
    await expect(f.bytes(quiet)).rejects.toThrow(/let go/);
    expect(await f.info(quiet)).toMatchObject({ source: 'network', resumedFrom: 256 });
    expect(calls.n).toBe(1); // no second fetch for the report
  });

  it('keeps the bytes until the session exists, so a failed session creation retries without a second fetch', async () => {
    const { load, calls } = loader();
    const f = teacherFile(load);
    f.sessionMade(); // nothing fetched yet: nothing to let go
    const first = await f.bytes(quiet);
    // (createSession failed here: sessionMade was not called)
    expect(await f.bytes(quiet)).toBe(first);
    expect(calls.n).toBe(1);
  });
});
