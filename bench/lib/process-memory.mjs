// Memory of the browser we launched: every process below this Node process except the preview
// server, read from /proc. PSS (proportional set size) splits shared pages between processes, so
// the sum does not count Chromium's shared libraries once per renderer; RSS is kept alongside.
import { readdirSync, readFileSync } from 'node:fs';

function children() {
  const parent = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // Field 4 is the parent pid; the command name (field 2) may contain spaces, so split after ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parent.set(Number(name), ppid);
    } catch {
      /* process ended while reading */
    }
  }
  return parent;
}

function descendantsOf(root, parent) {
  const out = [];
  for (const pid of parent.keys()) {
    for (let p = parent.get(pid), hops = 0; p && hops < 64; p = parent.get(p), hops++) {
      if (p === root) {
        out.push(pid);
        break;
      }
    }
  }
  return out;
}

const kib = (text, field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);

/** { processes, pssMiB, rssMiB, byType: { renderer, gpu, browser, utility, other } } (PSS). */
export function browserMemory() {
  const parent = children();
  let pss = 0;
  let rss = 0;
  const byType = {};
  let processes = 0;
  for (const pid of descendantsOf(process.pid, parent)) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!/chrom/i.test(cmd)) continue; // the vite preview server is a node child too
      const roll = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
      const type = /--type=([a-z-]+)/.exec(cmd)?.[1] ?? 'browser';
      const p = kib(roll, 'Pss');
      pss += p;
      rss += kib(roll, 'Rss');
      byType[type] = Number((((byType[type] ?? 0) * 1024 + p) / 1024).toFixed(1));
      processes += 1;
    } catch {
      /* gone */
    }
  }
  return { processes, pssMiB: Number((pss / 1024).toFixed(1)), rssMiB: Number((rss / 1024).toFixed(1)), byTypePssMiB: byType };
}
