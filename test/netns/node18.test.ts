// The appliance image ships Debian's Node 18: the same bundle and the same addon build must
// run there and interoperate with a Node 20 node.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { Lab, netnsUnavailable } from './lab.js';
import { BUNDLE, TandemNode, Workdir } from './peers.js';

const run = promisify(execFile);
const NODE18 = fileURLToPath(new URL('../../scripts/node18', import.meta.url));
const skip = netnsUnavailable();

describe('Node 18 (the appliance runtime)', { skip, timeout: 120_000 }, () => {
  let lab: Lab;
  let work: Workdir;
  before(async () => {
    lab = await Lab.create({ hosts: 2 });
    work = await Workdir.create();
  });
  after(async () => {
    await lab?.dispose();
    await work?.dispose();
  });

  it('runs the bundle', async () => {
    const { stdout } = await run(NODE18, ['-e', 'console.log(process.version)'], { timeout: 60_000 });
    assert.match(stdout, /^v18\./);
    assert.equal((await run(NODE18, [BUNDLE, '--version'])).stdout, 'tandem 0.1.0\n');
  });

  it('a Node 18 node and a Node 20 node elect and fail over over real raw sockets', async () => {
    const old = await TandemNode.start(lab, 1, work, [{ advskew: 0 }], 'fw-node18', NODE18);
    const current = await TandemNode.start(lab, 2, work, [{ advskew: 100 }], 'fw-node20');
    await old.waitFor('MASTER');
    await current.waitFor('BACKUP');
    assert.equal(await old.terminate(), 0);
    await current.waitFor('MASTER', 42, 2000);
    assert.equal((await current.status()).carp[0]!.counters.badAuth, 0);
    await current.terminate();
  });
});
