import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { withReference } from '../../../firmware/config/reference.js';
import { withTopicTable } from '../../../firmware/telemetry/topics.js';
import { parseConfig } from '../../../firmware/config/load.js';
import { VERSION } from '../../../firmware/version.js';

const root = new URL('../../../', import.meta.url);

describe('README', () => {
  it('config reference matches the schema (run `npm run docs` after changing the schema)', async () => {
    const readme = await readFile(new URL('README.md', root), 'utf8');
    assert.equal(readme, withReference(readme));
  });

  it('telemetry topic table matches firmware/telemetry/topics.ts (run `npm run docs` after changing it)', async () => {
    const readme = await readFile(new URL('README.md', root), 'utf8');
    assert.equal(readme, withTopicTable(readme));
  });

  it('its telemetry example is valid', async () => {
    const readme = await readFile(new URL('README.md', root), 'utf8');
    const example = /## Telemetry \(MQTT\)[\s\S]*?```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
    assert.ok(example, 'no yaml example under "Telemetry (MQTT)"');
    const result = parseConfig(`node: { name: fw-a }\n${example}`);
    assert.ok(result.ok, JSON.stringify(!result.ok && result.issues));
  });

  it('its config example is valid', async () => {
    const readme = await readFile(new URL('README.md', root), 'utf8');
    const example = /## Config reference[\s\S]*?```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
    assert.ok(example, 'no yaml example under "Config reference"');
    const result = parseConfig(example);
    assert.ok(result.ok, JSON.stringify(!result.ok && result.issues));
  });

  it('version matches package.json', async () => {
    const pkg = JSON.parse(await readFile(new URL('package.json', root), 'utf8')) as { version: string };
    assert.equal(VERSION, pkg.version);
  });
});
