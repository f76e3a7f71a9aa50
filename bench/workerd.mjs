// The workerd process a benchmark's Miniflare started, read from /proc: its
// memory and CPU time (bench/import.mjs, bench/generate.mjs).
import { readdirSync, readFileSync } from 'node:fs';

/** The workerd process Miniflare started: a descendant of `pid`. */
export function findWorkerd(pid) {
  const children = (p) => readdirSync(`/proc/${p}/task`).flatMap((t) => {
    try {
      return readFileSync(`/proc/${p}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    } catch { return []; }
  });
  const queue = children(pid);
  while (queue.length) {
    const p = queue.shift();
    if (readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'workerd') return p;
    queue.push(...children(p));
  }
  throw new Error('no workerd process found under this one');
}

/** The memory fields of /proc/<pid>/status, in KiB. */
export function status(pid) {
  const out = {};
  for (const line of readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const m = line.match(/^((?:Vm|Rss)\w+):\s+(\d+) kB/);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

/** User and system CPU seconds of a process so far. */
export function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const tick = 100; // USER_HZ on Linux
  return { user: Number(fields[11]) / tick, system: Number(fields[12]) / tick };
}
