import { describe, expect, it } from 'vitest';
import { createCoalescer } from '../../src/ui/coalesce';

function deferred<T>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe('prompt coalescing', () => {
  it('runs one at a time, keeps only the newest waiting request', async () => {
    const started: string[] = [];
    const results: string[] = [];
    const gates = new Map<string, ReturnType<typeof deferred<string>>>();
    const c = createCoalescer<string, string>(
      (p) => {
        started.push(p);
        const d = deferred<string>();
        gates.set(p, d);
        return d.promise;
      },
      (p, r) => results.push(`${p}:${r}`),
      () => undefined,
    );
    c.submit('c');
    c.submit('ca'); // waits
    c.submit('cat'); // replaces "ca"
    expect(started).toEqual(['c']);
    expect(c.busy).toBe(true);
    gates.get('c')!.resolve('1');
    await Promise.resolve();
    await Promise.resolve();
    expect(started).toEqual(['c', 'cat']);
    gates.get('cat')!.resolve('2');
    await c.idle();
    expect(results).toEqual(['c:1', 'cat:2']);
    expect(c.busy).toBe(false);
  });

  it('reports errors and keeps going', async () => {
    const errors: string[] = [];
    const done: string[] = [];
    const c = createCoalescer<string, string>(
      async (p) => {
        if (p === 'bad') throw new Error('boom');
        return p;
      },
      (p) => done.push(p),
      (p) => errors.push(p),
    );
    c.submit('bad');
    await c.idle();
    c.submit('good');
    await c.idle();
    expect(errors).toEqual(['bad']);
    expect(done).toEqual(['good']);
  });

  it('idle() resolves at once when nothing runs', async () => {
    const c = createCoalescer<number, number>(
      async (x) => x,
      () => undefined,
      () => undefined,
    );
    await expect(c.idle()).resolves.toBeUndefined();
  });
});

describe('prompt coalescing: busy flag during delivery', () => {
  it('is not busy while delivering the last result, busy when newer work waits', async () => {
    const seen: boolean[] = [];
    const c = createCoalescer<string, string>(
      async (p) => p,
      () => seen.push(c.busy),
      () => undefined,
    );
    c.submit('a');
    await c.idle();
    expect(seen).toEqual([false]);
  });

  it('a submit from inside onResult runs next without a second loop', async () => {
    const order: string[] = [];
    let started = 0;
    const c = createCoalescer<string, string>(
      async (p) => {
        started++;
        return p;
      },
      (p) => {
        order.push(p);
        if (p === 'a') c.submit('b');
      },
      () => undefined,
    );
    c.submit('a');
    await c.idle();
    expect(order).toEqual(['a', 'b']);
    expect(started).toBe(2);
  });
});
