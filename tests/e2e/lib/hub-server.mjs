// A local stand-in for the Hugging Face hub, answering the same URL scheme the app reads:
//   GET /api/models/<owner>/<name>                      model info (cardData.license, tags)
//   GET /api/models/<owner>/<name>/tree/<rev>[/<dir>]   one folder's listing: type, path, size, oid,
//                                                       and for .onnx* files lfs: { oid: sha256, size }
//   GET /<owner>/<name>/resolve/<rev>/<path>            the file's bytes
// Each repo maps to a local folder; `hide` drops paths (a repo without the needed files) and
// `corrupt` serves a file with one byte flipped while listing its true sha256 (a bad mirror);
// `stall` sends the first half of a file and then nothing more (a download that hangs until stopped);
// `replace` serves (and lists, with their true size and sha256) other bytes for some paths: a
// hostile repository; `redirect` answers a file with a 302 to another URL;
// `manifest`, a function, rewrites the manifest.json it serves (read on every request, so a test can
// change a repository between two reads; the tree listing keeps the file's size on disk, which the
// app does not check for manifest.json).
// Every request is logged so tests can assert what was (not) downloaded.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';

const LFS = /\.onnx(_data)?$/;

export async function startHub(repos) {
  const requests = [];
  const hashes = new Map();
  const sha256 = (file) => {
    if (!hashes.has(file)) hashes.set(file, createHash('sha256').update(readFileSync(file)).digest('hex'));
    return hashes.get(file);
  };
  const hidden = (repo, rel) => (repo.hide ?? []).some((h) => rel === h || rel.startsWith(h.endsWith('/') ? h : `${h}/`));

  const contents = (repo, rel) => repo.replace?.[rel] ?? readFileSync(path.join(repo.dir, rel));

  function listing(repo, folder) {
    const dir = path.join(repo.dir, folder);
    return readdirSync(dir)
      .map((name) => (folder ? `${folder}/${name}` : name))
      .filter((rel) => !hidden(repo, rel))
      .map((rel) => {
        const full = path.join(repo.dir, rel);
        const st = statSync(full);
        if (st.isDirectory()) return { type: 'directory', oid: createHash('sha1').update(rel).digest('hex'), size: 0, path: rel };
        const bytes = contents(repo, rel);
        const entry = {
          type: 'file',
          oid: createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex'),
          size: bytes.length,
          path: rel,
        };
        if (LFS.test(rel)) {
          const oid = repo.replace?.[rel] ? createHash('sha256').update(bytes).digest('hex') : sha256(full);
          entry.lfs = { oid, size: bytes.length, pointerSize: 134 };
        }
        return entry;
      });
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://hub');
    requests.push(url.pathname);
    const head = (status, length, type) =>
      res.writeHead(status, {
        'Content-Type': type,
        'Content-Length': length,
        // The app runs cross-origin isolated (COEP require-corp): CORS is what lets it read these.
        'Access-Control-Allow-Origin': '*',
        'Cross-Origin-Resource-Policy': 'cross-origin',
      });
    const send = (status, body, type = 'application/json') => {
      head(status, body.length, type);
      res.end(body);
    };
    const json = (status, value) => send(status, Buffer.from(JSON.stringify(value)));
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    try {
      if (parts[0] === 'api' && parts[1] === 'models') {
        const repo = repos[`${parts[2]}/${parts[3]}`];
        if (!repo) return json(404, { error: 'Repository not found' });
        if (parts.length === 4)
          return json(200, { id: `${parts[2]}/${parts[3]}`, cardData: { license: repo.license }, tags: [`license:${repo.license}`] });
        if (parts[4] !== 'tree') return json(404, { error: 'not found' });
        const folder = parts.slice(6).join('/');
        if (folder && hidden(repo, folder)) return json(404, { error: 'Entry not found' });
        try {
          return json(200, listing(repo, folder));
        } catch {
          return json(404, { error: 'Entry not found' });
        }
      }
      const repo = repos[`${parts[0]}/${parts[1]}`];
      if (!repo || parts[2] !== 'resolve') return json(404, { error: 'Repository not found' });
      const rel = parts.slice(4).join('/');
      if (hidden(repo, rel)) return json(404, { error: 'Entry not found' });
      let bytes;
      if (repo.redirect?.[rel]) {
        res.writeHead(302, { Location: repo.redirect[rel], 'Access-Control-Allow-Origin': '*', 'Content-Length': 0 });
        return res.end();
      }
      try {
        bytes = contents(repo, rel);
      } catch {
        return json(404, { error: 'Entry not found' });
      }
      if (rel === 'manifest.json' && repo.manifest) bytes = Buffer.from(JSON.stringify(repo.manifest(JSON.parse(bytes.toString('utf8')))));
      if ((repo.corrupt ?? []).includes(rel)) {
        bytes = Buffer.from(bytes);
        bytes[bytes.length >> 1] ^= 0xff;
      }
      if ((repo.stall ?? []).includes(rel)) {
        head(200, bytes.length, 'application/octet-stream');
        res.write(bytes.subarray(0, bytes.length >> 1));
        return; // never ended: the app's request hangs until it aborts it (or the hub stops)
      }
      return send(200, bytes, 'application/octet-stream');
    } catch (err) {
      return json(500, { error: String(err) });
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    requests,
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
