// Test helper process: saves two alternating configs forever, until it is killed.
import { saveConfigText } from '../../../firmware/config/save.js';

const [path, first, second] = process.argv.slice(2) as [string, string, string];
const { readFileSync } = await import('node:fs');
const texts = [readFileSync(first, 'utf8'), readFileSync(second, 'utf8')];
process.stdout.write('ready\n');
for (let i = 0; ; i++) await saveConfigText(path, texts[i % 2]!);
