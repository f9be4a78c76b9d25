// What the figures were measured on: cores, CPU, memory, load while measuring, browser, commit.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

export const loadavg = () => readFileSync('/proc/loadavg', 'utf8').trim().split(/\s+/).slice(0, 3).map(Number);

/** Samples /proc/loadavg every `everyMs` until stopped; the JSON keeps min/median/max of the 1-min figure. */
export function loadSampler(everyMs = 5000) {
  const samples = [loadavg()[0]];
  const timer = setInterval(() => samples.push(loadavg()[0]), everyMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      samples.push(loadavg()[0]);
      const s = [...samples].sort((a, b) => a - b);
      return { samples: s.length, min: s[0], median: s[Math.floor(s.length / 2)], max: s[s.length - 1] };
    },
  };
}

function git(args) {
  try {
    return execFileSync('git', args, { encoding: 'utf8' }).trim();
  } catch {
    return null;
  }
}

export function describeMachine(root) {
  const cpus = os.cpus();
  return {
    cores: cpus.length,
    cpu: cpus[0]?.model ?? 'unknown',
    memGiB: Number((os.totalmem() / 2 ** 30).toFixed(1)),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    commit: git(['-C', root, 'rev-parse', '--short', 'HEAD']),
    dirty: Boolean(git(['-C', root, 'status', '--porcelain', '--untracked-files=no'])),
    loadAtStart: loadavg(),
  };
}
