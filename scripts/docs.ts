// `npm run docs`: regenerates the README's config reference from the schema and its telemetry
// topic table from firmware/telemetry/topics.ts and its Prometheus metric table from
// firmware/telemetry/prometheus.ts.
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../firmware/os/files.js';
import { withReference } from '../firmware/config/reference.js';
import { withTopicTable } from '../firmware/telemetry/topics.js';
import { withMetricsTable } from '../firmware/telemetry/prometheus.js';

const readme = await readFile('README.md', 'utf8');
const next = withMetricsTable(withTopicTable(withReference(readme)));
if (next !== readme) {
  await writeFileAtomic('README.md', next, 0o644);
  console.log('README.md: config reference and topic table updated');
} else {
  console.log('README.md: config reference and topic table already up to date');
}
