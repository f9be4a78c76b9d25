// A tiny test harness for the e2e suite: sequential tests sharing one browser, one summary line.
// (@playwright/test would bring its own runner and reporters; these few tests need neither.)
//
// A test that cannot run without an earlier one's outcome (the model loaded, say) names it in
// `needs`; when that one failed, the test is reported as not run, naming the first failure, and
// counted as failed: one broken step shows as itself, not as a cascade of unrelated errors.
//
// E2E_TEST=<text> runs only the tests whose name contains <text>, with the tests they need
// (transitively) before them: any test can be run alone.

const tests = [];

export function test(name, fn, { timeoutMs = 120_000, needs = [] } = {}) {
  const known = new Set(tests.map((t) => t.name));
  for (const n of needs) if (!known.has(n)) throw new Error(`test "${name}" needs "${n}", which is not registered before it`);
  tests.push({ name, fn, timeoutMs, needs });
}

function withTimeout(promise, ms, name) {
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, limit])
    .finally(() => clearTimeout(timer))
    .catch((err) => {
      err.message = `${name}: ${err.message}`;
      throw err;
    });
}

/**
 * Runs every registered test in order. A test whose `needs` did not pass is not run; it counts as
 * failed, and `notRun` says how many were.
 */
/** The tests E2E_TEST selects (all without it), each preceded by what it needs, in registration order. */
function selected() {
  const only = process.env.E2E_TEST;
  if (!only) return [...tests];
  const byName = new Map(tests.map((t) => [t.name, t]));
  const keep = new Set();
  const add = (t) => {
    if (keep.has(t.name)) return;
    keep.add(t.name);
    for (const n of t.needs) add(byName.get(n));
  };
  for (const t of tests) if (t.name.includes(only)) add(t);
  return tests.filter((t) => keep.has(t.name));
}

export async function runAll() {
  let passed = 0;
  let failed = 0;
  let notRun = 0;
  // name → why it did not pass: its own failure's name, or the first failure it waited on
  const didNotPass = new Map();
  for (const t of selected()) {
    const blocker = t.needs.find((n) => didNotPass.has(n));
    if (blocker !== undefined) {
      const first = didNotPass.get(blocker);
      didNotPass.set(t.name, first);
      failed += 1;
      notRun += 1;
      console.log(`  – ${t.name}: not run (needs "${blocker}"${first === blocker ? '' : `, not run because "${first}"`} failed)`);
      continue;
    }
    const started = Date.now();
    try {
      await withTimeout(Promise.resolve().then(t.fn), t.timeoutMs, t.name);
      passed += 1;
      console.log(`  ✓ ${t.name} (${Date.now() - started} ms)`);
    } catch (err) {
      failed += 1;
      didNotPass.set(t.name, t.name);
      console.log(
        `  ✗ ${t.name} (${Date.now() - started} ms)\n      ${String(err?.stack ?? err)
          .split('\n')
          .slice(0, 4)
          .join('\n      ')}`,
      );
    }
  }
  tests.length = 0;
  if (notRun > 0) console.log(`  ${notRun} not run because a test they need failed (counted as failed)`);
  return { passed, failed, notRun };
}

export function assert(cond, message) {
  if (!cond) throw new Error(`assertion failed: ${message}`);
}
