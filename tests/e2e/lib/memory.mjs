// Memory of the page and its workers, measured from outside: V8 heap of the page (CDP on the
// page) and of every dedicated worker (the generator and ORT's thread workers, reached through
// the browser's CDP target list), each after a forced GC; plus the resident size of Chromium's
// renderer processes (/proc), which also counts WASM memory and buffers outside the JS heap.
import { readFileSync } from 'node:fs';

/** Sends CDP commands to worker targets through the browser session (non-flat attach). */
async function workerSessions(browser) {
  const cdp = await browser.newBrowserCDPSession();
  const pending = new Map();
  let nextId = 1;
  cdp.on('Target.receivedMessageFromTarget', ({ sessionId, message }) => {
    const msg = JSON.parse(message);
    const key = `${sessionId}:${msg.id}`;
    if (msg.id !== undefined && pending.has(key)) {
      pending.get(key)(msg);
      pending.delete(key);
    }
  });
  const { targetInfos } = await cdp.send('Target.getTargets');
  const sessions = [];
  for (const t of targetInfos.filter((t) => t.type === 'worker')) {
    const { sessionId } = await cdp.send('Target.attachToTarget', { targetId: t.targetId, flatten: false });
    sessions.push({ url: t.url, title: t.title, sessionId });
  }
  const send = (sessionId, method, params = {}, timeoutMs = 15_000) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => reject(new Error(`${method} on worker timed out`)), timeoutMs);
      pending.set(`${sessionId}:${id}`, (msg) => {
        clearTimeout(timer);
        if (msg.error) reject(new Error(msg.error.message));
        else resolve(msg.result);
      });
      cdp.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id, method, params }) }).catch(reject);
    });
  return { cdp, sessions, send };
}

/** Resident bytes of this browser's renderer processes (their ids come from the browser itself). */
async function rendererRssBytes(browser) {
  const cdp = await browser.newBrowserCDPSession();
  try {
    const { processInfo } = await cdp.send('SystemInfo.getProcessInfo');
    let total = 0;
    for (const p of processInfo.filter((p) => p.type === 'renderer')) {
      try {
        const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p.id}/status`, 'utf8'));
        if (rss) total += Number(rss[1]) * 1024;
      } catch {
        /* process went away */
      }
    }
    return total;
  } finally {
    await cdp.detach().catch(() => undefined);
  }
}

/**
 * { pageHeap, workerHeap, workers, rss } in bytes, after a GC in every isolate that answers.
 * ORT's idle thread workers sit in Atomics.wait and cannot answer the debugger; they hold no JS
 * objects of ours (their WASM memory is shared and shows in the renderer's RSS), so they are
 * skipped and counted in `skipped`.
 */
export async function measureMemory(browser, page) {
  const pageCdp = await page.context().newCDPSession(page);
  await pageCdp.send('HeapProfiler.collectGarbage');
  const p = await pageCdp.send('Runtime.getHeapUsage');
  await pageCdp.detach();
  const w = await workerSessions(browser);
  let workerHeap = 0;
  let workerBacking = 0;
  let measured = 0;
  const names = [];
  try {
    for (const s of w.sessions) {
      try {
        await w.send(s.sessionId, 'HeapProfiler.collectGarbage');
        const u = await w.send(s.sessionId, 'Runtime.getHeapUsage');
        workerHeap += u.usedSize;
        workerBacking += u.backingStorageSize ?? 0;
        measured += 1;
        names.push(s.title || s.url);
      } catch {
        /* a thread worker blocked in Atomics.wait */
      }
    }
  } finally {
    await w.cdp.detach().catch(() => undefined);
  }
  return {
    pageHeap: p.usedSize,
    pageBacking: p.backingStorageSize ?? 0,
    workerHeap,
    workerBacking,
    workers: measured,
    workerNames: names,
    skipped: w.sessions.length - measured,
    rss: await rendererRssBytes(browser),
  };
}

export const mb = (n) => `${(n / 1024 / 1024).toFixed(2)} MB`;
