// A tiny test harness for the e2e suite: sequential tests sharing one browser, one summary line.
// (@playwright/test would bring its own runner and reporters; these few tests need neither.)

const tests = [];

export function test(name, fn, { timeoutMs = 120_000 } = {}) {
  tests.push({ name, fn, timeoutMs });
}

function withTimeout(promise, ms, name) {
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer)).catch((err) => {
    err.message = `${name}: ${err.message}`;
    throw err;
  });
}

/** Runs every registered test in order; later tests may depend on state earlier ones left. */
export async function runAll() {
  let passed = 0;
  let failed = 0;
  for (const t of tests) {
    const started = Date.now();
    try {
      await withTimeout(Promise.resolve().then(t.fn), t.timeoutMs, t.name);
      passed += 1;
      console.log(`  ✓ ${t.name} (${Date.now() - started} ms)`);
    } catch (err) {
      failed += 1;
      console.log(`  ✗ ${t.name} (${Date.now() - started} ms)\n      ${String(err?.stack ?? err).split('\n').slice(0, 4).join('\n      ')}`);
    }
  }
  tests.length = 0;
  return { passed, failed };
}

export function assert(cond, message) {
  if (!cond) throw new Error(`assertion failed: ${message}`);
}
