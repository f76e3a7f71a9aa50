// Inclusive time of the functions named on the command line, from a
// profile written by bench/profile.mjs: node bench/profile-tree.mjs target/profile-bare.cpuprofile fetch command
import fs from 'node:fs';
const [file, ...names] = process.argv.slice(2);
const p = JSON.parse(fs.readFileSync(file));
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const self = new Map();
for (const s of p.samples) self.set(s, (self.get(s) ?? 0) + 1);
const inclusive = (n) => (self.get(n.id) ?? 0) + (n.children ?? []).reduce((a, c) => a + inclusive(byId.get(c)), 0);
const total = p.samples.length;
const walk = (n, depth, out) => {
  const f = n.callFrame;
  if (names.includes(f.functionName)) out.set(`${f.functionName} ${f.url.split('/').pop()}`, (out.get(`${f.functionName} ${f.url.split('/').pop()}`) ?? 0) + inclusive(n));
  else for (const c of n.children ?? []) walk(byId.get(c), depth + 1, out);
  return out;
};
const out = walk(p.nodes[0], 0, new Map());
for (const [k, v] of out) console.log(`${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`);
const top = (p.nodes[0].children ?? []).map((c) => byId.get(c)).map((n) => [n.callFrame.functionName || '(anonymous)', inclusive(n)]).sort((a, b) => b[1] - a[1]);
console.log('root children:', top.slice(0, 12).map(([n, v]) => `${n} ${((100 * v) / total).toFixed(1)}%`).join(', '));
