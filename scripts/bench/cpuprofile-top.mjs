// Summarises a .cpuprofile (node --cpu-prof, scripts/bench/balancer --profile) as text: the
// functions with the most self time, and a flame graph folded to the heaviest call paths.
//   node scripts/bench/cpuprofile-top.mjs FILE [--top N] [--depth N]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({ options: { top: { type: 'string' }, depth: { type: 'string' } }, allowPositionals: true });
if (positionals.length !== 1) {
  console.error('usage: cpuprofile-top.mjs FILE [--top N] [--depth N]');
  process.exit(2);
}
const top = Number(values.top ?? 25);
const maxDepth = Number(values.depth ?? 14);
const profile = JSON.parse(readFileSync(positionals[0], 'utf8'));
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

// Self time per node from the samples and their time deltas (µs).
const self = new Map();
profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const total = [...self.values()].reduce((a, b) => a + b, 0);
const name = (n) => {
  const f = n.callFrame;
  const where = f.url ? `${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}` : '';
  return `${f.functionName || '(anonymous)'} ${where}`.trim();
};
const idle = new Set(['(idle)', '(program)', '(garbage collector)']);
const byName = new Map();
for (const [id, us] of self) {
  const key = name(nodes.get(id));
  byName.set(key, (byName.get(key) ?? 0) + us);
}
const busy = [...self].filter(([id]) => nodes.get(id).callFrame.functionName !== '(idle)').reduce((a, [, us]) => a + us, 0);
console.log(`profile: ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s busy\n`);
console.log(`top ${top} by self time (% of busy):`);
for (const [key, us] of [...byName].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  if (key === '(idle)') continue;
  console.log(`${((100 * us) / busy).toFixed(1).padStart(6)}%  ${key}`);
}

// Inclusive time per node, then a text flame graph: children over 1.5% of busy, heaviest first.
const inclusive = new Map();
const sum = (id) => {
  const n = nodes.get(id);
  let t = self.get(id) ?? 0;
  for (const c of n.children ?? []) t += sum(c);
  inclusive.set(id, t);
  return t;
};
sum(profile.nodes[0].id);
console.log('\nflame graph (inclusive % of busy, children above 1.5%):');
const walk = (id, depth) => {
  const n = nodes.get(id);
  if (depth > maxDepth) return;
  const kids = (n.children ?? []).filter((c) => !idle.has(nodes.get(c).callFrame.functionName) && inclusive.get(c) / busy > 0.015);
  for (const c of kids.sort((a, b) => inclusive.get(b) - inclusive.get(a))) {
    console.log(`${'  '.repeat(depth)}${((100 * inclusive.get(c)) / busy).toFixed(1).padStart(5)}% ${name(nodes.get(c))}`);
    walk(c, depth + 1);
  }
};
walk(profile.nodes[0].id, 0);
for (const label of idle) {
  const us = byName.get(label);
  if (us) console.log(`${label}: ${((100 * us) / total).toFixed(1)}% of sampled time`);
}
