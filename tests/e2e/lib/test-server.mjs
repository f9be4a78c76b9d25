// A small static server for suites that need more than `vite preview`: switching the served build
// at the same origin (service worker updates), and network faults (a connection cut mid-file, a
// file with the wrong bytes). It sends the same security headers as the preview server (copied
// from it, so there is one source: src/shared/security-headers.ts), honours Range requests, and
// logs every request with the bytes it sent.
import { createReadStream, statSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.onnx': 'application/octet-stream',
  '.pack': 'application/octet-stream', // packed graphs (model.onnx.pack)
};

/** The headers the preview server sends with the app (COOP, COEP, CSP, …). */
export async function headersOf(previewUrl) {
  let res;
  // A reused keep-alive socket the server already closed fails once ("fetch failed"): retry.
  for (let i = 0; ; i++) {
    try {
      res = await fetch(previewUrl, { headers: { connection: 'close' } });
      break;
    } catch (err) {
      if (i === 2) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  await res.arrayBuffer();
  const keep = [
    'cross-origin-opener-policy',
    'cross-origin-embedder-policy',
    'content-security-policy',
    'referrer-policy',
    'x-content-type-options',
    'cross-origin-resource-policy',
  ];
  return Object.fromEntries(keep.filter((h) => res.headers.has(h)).map((h) => [h, res.headers.get(h)]));
}

/**
 * faults (mutable while running):
 *   cut:     { path, afterBytes }  the next GET of path sends afterBytes bytes, then drops the connection
 *   corrupt: { path }              every GET of path gets its bytes flipped (same length)
 *   hold:    { path, afterBytes, release }  the next GET of path sends afterBytes bytes, then waits
 *            until the promise `release` settles before sending the rest (the log entry gets held: true)
 */
export async function startTestServer({ root, headers }) {
  const state = { root, faults: {}, log: [] };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    let rel = decodeURIComponent(url.pathname);
    if (rel.endsWith('/')) rel += 'index.html';
    const file = path.join(state.root, path.normalize(rel).replace(/^(\.\.[/\\])+/, ''));
    const entry = { path: url.pathname, range: req.headers.range ?? null, status: 0, sent: 0 };
    state.log.push(entry);
    let stat;
    try {
      stat = statSync(file);
      if (!stat.isFile()) throw new Error('not a file');
    } catch {
      entry.status = 404;
      res.writeHead(404, headers).end('not found');
      return;
    }
    const base = {
      ...headers,
      'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream',
      'Accept-Ranges': 'bytes',
      'Cache-Control': 'no-cache',
    };
    let start = 0;
    let end = stat.size - 1;
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (m) {
      start = Number(m[1]);
      end = m[2] ? Math.min(Number(m[2]), end) : end;
      if (start > end) {
        entry.status = 416;
        res.writeHead(416, { ...base, 'Content-Range': `bytes */${stat.size}` }).end();
        return;
      }
      entry.status = 206;
      res.writeHead(206, { ...base, 'Content-Range': `bytes ${start}-${end}/${stat.size}`, 'Content-Length': end - start + 1 });
    } else {
      entry.status = 200;
      res.writeHead(200, { ...base, 'Content-Length': stat.size });
    }
    if (req.method === 'HEAD') return res.end();

    const cut = state.faults.cut?.path === url.pathname ? state.faults.cut : null;
    if (cut) state.faults.cut = undefined; // one cut per arming
    const corrupt = state.faults.corrupt?.path === url.pathname;
    const hold = state.faults.hold?.path === url.pathname ? state.faults.hold : null;
    if (hold) state.faults.hold = undefined;
    const stream = createReadStream(file, { start, end, highWaterMark: 256 * 1024 });
    stream.on('data', (buf) => {
      if (corrupt) for (let i = 0; i < buf.length; i += 997) buf[i] ^= 0x5a;
      if (cut && entry.sent + buf.length >= cut.afterBytes) {
        const head = buf.subarray(0, cut.afterBytes - entry.sent);
        entry.sent += head.length;
        entry.cut = true;
        stream.destroy();
        // Let the bytes reach the browser, then drop the connection mid-body.
        res.write(head, () => setTimeout(() => res.socket?.destroy(), 300));
        return;
      }
      if (hold && !entry.held && entry.sent + buf.length >= hold.afterBytes) {
        const head = buf.subarray(0, hold.afterBytes - entry.sent);
        entry.sent += head.length;
        entry.held = true;
        stream.pause();
        res.write(head);
        Promise.resolve(hold.release).finally(() => {
          const rest = buf.subarray(head.length);
          entry.sent += rest.length;
          res.write(rest);
          stream.resume();
        });
        return;
      }
      entry.sent += buf.length;
      if (!res.write(buf)) {
        stream.pause();
        res.once('drain', () => stream.resume());
      }
    });
    stream.on('end', () => res.end());
    stream.on('error', () => res.destroy());
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}/`;
  return {
    url,
    get log() {
      return state.log;
    },
    get faults() {
      return state.faults;
    },
    setRoot(dir) {
      state.root = dir;
    },
    requestsFor(p) {
      return state.log.filter((e) => e.path === p);
    },
    stop() {
      server.closeAllConnections?.();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
