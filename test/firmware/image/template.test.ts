// The first-boot config template (image/files/tandem.yaml.template, contract 7 of issue 15):
// once the init fills in the node name it must pass the daemon's own validation, keep its state
// on /cfg and ask for the web UI on every address (served once a user exists).

import { strict as assert } from 'node:assert';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { parseConfig } from '../../../firmware/config/load.js';

const template = await readFile(new URL('../../../image/files/tandem.yaml.template', import.meta.url), 'utf8');

describe('first-boot config template', () => {
  it('is valid once the node name is filled in, as the init does from the first MAC', () => {
    const result = parseConfig(template.replace('@NODE_NAME@', 'tandem-525400123456'));
    assert.ok(result.ok, result.ok ? '' : JSON.stringify(result.issues));
    assert.equal(result.config.node.name, 'tandem-525400123456');
    assert.equal(result.config.node.stateDir, '/cfg/tandem');
    assert.deepEqual(result.config.api?.listen, ['0.0.0.0:443', '127.0.0.1:80']);
  });

  it('has exactly the one placeholder the init replaces', () => {
    assert.deepEqual(template.match(/@[A-Z_]+@/g), ['@NODE_NAME@']);
  });
});
