// LazySession: the deferred text encoder's session, made once on first use (runtime/lazy-session.ts).
import type * as ort from 'onnxruntime-web';
import { describe, expect, it } from 'vitest';
import { LazySession } from '../../workers/runtime/lazy-session';

/** A stand-in for an ORT session: only release() is called on it here. */
function maker(failFirst = 0) {
  const made: { released: boolean }[] = [];
  let calls = 0;
  const create = async () => {
    calls += 1;
    await new Promise((r) => setTimeout(r, 5));
    if (calls <= failFirst) throw new Error(`bad graph (${calls})`);
    const s = { released: false, release: async () => void (s.released = true) };
    made.push(s);
    return s as unknown as ort.InferenceSession;
  };
  return { create, made, calls: () => calls };
}

describe('LazySession', () => {
  it('makes nothing until asked, then one session for every caller', async () => {
    const m = maker();
    const lazy = new LazySession(m.create);
    expect(lazy.started).toBe(false);
    expect(m.calls()).toBe(0);
    const [a, b] = await Promise.all([lazy.get(), lazy.get()]);
    expect(a).toBe(b);
    expect(m.calls()).toBe(1);
    expect(lazy.started).toBe(true);
  });

  it('a failed attempt is reported and tried again on the next call', async () => {
    const m = maker(1);
    const lazy = new LazySession(m.create);
    await expect(lazy.get()).rejects.toThrow('bad graph (1)');
    expect(lazy.started).toBe(false);
    await expect(lazy.get()).resolves.toBeTruthy();
    expect(m.calls()).toBe(2);
  });

  it('release frees a session still being made, and later calls refuse', async () => {
    const m = maker();
    const lazy = new LazySession(m.create);
    const pending = lazy.get();
    await lazy.release();
    await pending;
    expect(m.made[0].released).toBe(true);
    await expect(lazy.get()).rejects.toThrow(/released/);
  });
});
