// `npm run docs`: regenerates the README's config reference from the schema.
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../firmware/os/files.js';
import { withReference } from '../firmware/config/reference.js';

const readme = await readFile('README.md', 'utf8');
const next = withReference(readme);
if (next !== readme) {
  await writeFileAtomic('README.md', next, 0o644);
  console.log('README.md: config reference updated');
} else {
  console.log('README.md: config reference already up to date');
}
