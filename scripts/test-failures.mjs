// Prints each failed test of a TAP file with its error and where it failed, so the tail of a
// long run (all a CI excerpt shows) says why, not only which. Suites that failed only because a
// subtest did are left out: the subtest is printed.
// Usage: node scripts/test-failures.mjs TIER FILE.tap
import { readFileSync } from 'node:fs';

const [tier, file] = process.argv.slice(2);
const lines = readFileSync(file, 'utf8').split('\n');
const MAX_LINES = 24;
for (let i = 0; i < lines.length; i++) {
  const head = /^(\s*)not ok \d+ - (.*)$/.exec(lines[i]);
  if (!head) continue;
  const indent = head[1].length;
  const block = [];
  let j = i + 1;
  if (lines[j]?.trim() === '---') {
    for (j++; j < lines.length && lines[j].trim() !== '...'; j++) block.push(lines[j].slice(indent + 2));
  }
  if (block.some((l) => l.startsWith("failureType: 'subtestsFailed'"))) continue;
  const kept = block.filter((l) => !l.startsWith('duration_ms:') && l.trim() !== '');
  const stackAt = kept.findIndex((l) => l.startsWith('stack:'));
  // Of the stack, only the frames in our own tree.
  const shown = stackAt < 0 ? kept : [...kept.slice(0, stackAt), 'stack (ours):', ...kept.slice(stackAt + 1).filter((l) => /\/(test|firmware|ui|image|scripts)\//.test(l) && !l.includes('node_modules'))];
  console.log(`--- ${tier}: ${head[2]}`);
  for (const l of shown.slice(0, MAX_LINES)) console.log(`  ${l}`);
  if (shown.length > MAX_LINES) console.log(`  (${shown.length - MAX_LINES} more lines in the tier's output)`);
}
