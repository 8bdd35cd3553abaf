// Test helper process: saves two alternating configs forever, until it is killed.
import { saveConfigText } from '../../../firmware/config/save.js';

const [path, first, second] = process.argv.slice(2) as [string, string, string];
const { readFileSync } = await import('node:fs');
const texts = [readFileSync(first, 'utf8'), readFileSync(second, 'utf8')];
// One line per completed save, so the parent can kill us while a save is under way.
for (let i = 0; ; i++) {
  await saveConfigText(path, texts[i % 2]!);
  process.stdout.write(`saved ${i}\n`);
}
