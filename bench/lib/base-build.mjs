// "Before" for before/after figures: the app as of another commit, exported with `git archive`
// into a temporary folder (node_modules linked from this checkout), built, and served by its own
// `vite preview` (its own vite.config.ts: same COOP/COEP headers), next to this checkout's build.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export function buildCommit(root, commit) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'onestep-base-'));
  execFileSync('sh', ['-c', `git -C "${root}" archive "${commit}" | tar -x -C "${dir}"`]);
  symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'));
  const r = spawnSync(process.execPath, [path.join(dir, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'warn'], {
    cwd: dir,
    stdio: 'inherit',
  });
  if (r.status !== 0) throw new Error(`vite build of ${commit} failed`);
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

const freePort = () =>
  new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });

/** `vite preview` of `dir`'s dist/ on a free port; { url, stop }. */
export async function serveDir(dir) {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [path.join(dir, 'node_modules/vite/bin/vite.js'), 'preview', '--host', '127.0.0.1', '--port', String(port), '--strictPort'],
    { cwd: dir, stdio: 'ignore' },
  );
  const url = `http://127.0.0.1:${port}/`;
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`vite preview in ${dir} exited`);
    try {
      if ((await fetch(url)).ok) return { url, stop: () => child.kill('SIGTERM') };
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  child.kill('SIGTERM');
  throw new Error(`vite preview did not answer on ${url}`);
}
