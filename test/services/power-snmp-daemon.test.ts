// The daemon (the built bundle) parks and wakes a pool host through a real switched PDU: Debian's
// snmpd with the pass_persist PDU (pdu-pass.py) in its own namespace, whose outlet 1 feeds web-1:
// the outlet hook starts web-1's HTTP server on "on" and kills it on "off". `tandem power wake`
// switches the outlet on over SNMPv3 and web-1 rejoins the pool once its checks pass; `tandem
// power park` drains it, switches the outlet off and verifies by reading the outlet back.
// Tier "services", as root, after `npm run build`.

import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { PowerStatus } from '../../firmware/power/status.js';
import { DaemonProcess, Workdir } from '../netns/peers.js';
import type { Lab } from '../netns/lab.js';
import { createPowerLab, eventually, PYTHON, REPO_ROOT, requireRoot } from './power-lab.js';

const ROUTER = 1;
const PDU = 2;
const WEB1 = 3;
const WEB2 = 4;

class PowerNode extends DaemonProcess {
  static async start(lab: Lab, dir: string, config: Record<string, unknown>): Promise<PowerNode> {
    const socket = join(dir, 'control.sock');
    return DaemonProcess.launch(lab, ROUTER, dir, { ...config, control: { socket } }, socket, (child) => new PowerNode('fw-pdu', child, socket));
  }
  async host(name: string) {
    return ((await this.control({ cmd: 'power-status' })) as PowerStatus).hosts.find((h) => h.name === name)!;
  }
}

async function alive(pidFile: string): Promise<number | undefined> {
  const pid = Number(await readFile(pidFile, 'utf8').catch(() => ''));
  if (!pid) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

test('the daemon wakes and parks a host through snmpd: outlet on, checks pass; drain, outlet off, read back off', { timeout: 120_000 }, async (t) => {
  if (!requireRoot(t)) return;
  const pl = await createPowerLab(4);
  const work = await Workdir.create();
  const serverPid = join(pl.dir, 'web1-server.pid');
  let web2: ChildProcess | undefined;
  try {
    const lab = pl.lab;
    const pduAddress = lab.host(PDU).ipv4;
    const web1 = lab.host(WEB1);
    // The PDU: outlet 1 off (web-1 unpowered), outlet 2 on; the hook powers web-1's server.
    const state = join(pl.dir, 'outlets.json');
    await writeFile(state, JSON.stringify({ outlets: { 1: 'off', 2: 'on', 3: 'off', 4: 'off' }, log: [], rebootAt: {} }));
    const hook = join(pl.dir, 'outlet-hook.sh');
    await writeFile(hook, [
      '[ "$1" = 1 ] || exit 0',
      'if [ "$2" = on ]; then',
      `  ip netns exec ${web1.netns} ${PYTHON} -m http.server 8080 --bind ${web1.ipv4} >/dev/null 2>&1 </dev/null &`,
      `  echo $! > ${serverPid}`,
      'else',
      `  kill "$(cat ${serverPid})" 2>/dev/null; rm -f ${serverPid}`,
      'fi',
      '',
    ].join('\n'));
    await mkdir(join(pl.dir, 'persist'));
    const script = join(REPO_ROOT, 'test/services/pdu-pass.py');
    await writeFile(join(pl.dir, 'snmpd.conf'), [
      `agentAddress udp:${pduAddress}:161`,
      'createUser pduadmin SHA "authpass123" AES "privpass123"',
      'rwuser pduadmin priv',
      `pass_persist .1.3.6.1.4.1.318 ${PYTHON} ${script} ${state} 4 /bin/sh ${hook}`,
      '',
    ].join('\n'));
    lab.spawn(PDU, 'env', ['MIBS=', `SNMP_PERSISTENT_DIR=${join(pl.dir, 'persist')}`, '/usr/sbin/snmpd', '-f', '-C', '-c', join(pl.dir, 'snmpd.conf'), '-Lo']);
    await pl.listening(PDU, 'udp', pduAddress, 161);
    // web-2 is always on (its outlet's hook does nothing): the pool keeps one host while web-1 is off.
    web2 = lab.spawn(WEB2, PYTHON, ['-m', 'http.server', '8080', '--bind', lab.host(WEB2).ipv4]);
    await pl.listening(WEB2, 'tcp', lab.host(WEB2).ipv4, 8080);

    const outlet = (n: number) => ({ method: 'snmp', seconds: 3, address: pduAddress, outlet: n, mib: 'apc-rpdu2', version: 3, user: 'pduadmin', authKey: 'authpass123', privProtocol: 'aes', privKey: 'privpass123' });
    const managed = (h: number, n: number) => ({
      name: `web-${h - 2}`, pool: 'web', address: lab.host(h).ipv4, mac: lab.host(h).mac, capacity: 10,
      watts: { idle: 40, peak: 90, parked: 2 }, wake: outlet(n), park: outlet(n),
    });
    const dir = work.file('fw');
    await mkdir(dir, { recursive: true });
    const node = await PowerNode.start(lab, dir, {
      node: { name: 'fw-pdu', stateDir: join(dir, 'state') },
      log: { level: 'debug' },
      balancer: {
        pools: [{
          name: 'web', port: 8080,
          hosts: [{ name: 'web-1', address: web1.ipv4 }, { name: 'web-2', address: lab.host(WEB2).ipv4 }],
          check: { type: 'http', path: '/', port: 8080, intervalSeconds: 0.5, timeoutSeconds: 0.4, downAfter: 2, upAfter: 2 },
          relay: { listen: `${lab.host(ROUTER).ipv4}:80`, mode: 'tcp' },
        }],
      },
      power: {
        intervalSeconds: 1,
        policy: { spares: 0, minAwake: 1, maxCyclesPerDay: 10, minAwakeSeconds: 3600, minParkedSeconds: 3600, targetUtilisation: 0.8, drainTimeoutSeconds: 2 },
        pools: [{ name: 'web', unit: 'connections' }],
        hosts: [managed(WEB1, 1), managed(WEB2, 2)],
      },
    });
    try {
      // Unpowered at start, web-1 fails its checks: the daemon's picture has it parked.
      await eventually('web-1 seen parked', async () => ((await node.host('web-1')).state === 'parked' ? true : undefined), 15_000, 200);
      assert.equal(await alive(serverPid), undefined);
      // The first check round after start rebuilds the picture; the node acts only after it.
      await eventually('the power manager to act', async () => {
        const power = (await node.status() as unknown as { power?: { role: string } }).power;
        return power && power.role !== 'rebuilding' ? true : undefined;
      }, 10_000, 100);

      const wakeAt = Date.now();
      await node.control({ cmd: 'power-wake', host: 'web-1' });
      await eventually('web-1 awake', async () => ((await node.host('web-1')).state === 'awake' ? true : undefined), 30_000, 200);
      t.diagnostic(`wake → outlet on → checks pass: ${Date.now() - wakeAt} ms`);
      assert.ok(await alive(serverPid), 'the outlet powered web-1');
      const afterWake = JSON.parse(await readFile(state, 'utf8')) as { outlets: Record<string, string>; log: Array<{ outlet: number; command: string }> };
      assert.equal(afterWake.outlets['1'], 'on');
      assert.deepEqual(afterWake.log, [{ outlet: 1, command: 'on', via: 'rpdu2-ctl' }]);

      const parkAt = Date.now();
      await node.control({ cmd: 'power-park', host: 'web-1' });
      await eventually('web-1 parked', async () => ((await node.host('web-1')).state === 'parked' ? true : undefined), 30_000, 200);
      t.diagnostic(`park → drain → outlet off → read back off: ${Date.now() - parkAt} ms`);
      const parked = await node.host('web-1');
      assert.equal(parked.how, 'snmp');
      assert.equal(await alive(serverPid), undefined, 'the outlet cut web-1');
      const afterPark = JSON.parse(await readFile(state, 'utf8')) as { outlets: Record<string, string>; log: Array<{ outlet: number; command: string }> };
      assert.equal(afterPark.outlets['1'], 'off');
      assert.deepEqual(afterPark.log.map((l) => `${l.outlet} ${l.command}`), ['1 on', '1 off'], 'one switch each way, outlet 2 untouched');
      assert.equal((await node.host('web-2')).state, 'awake');
    } catch (error) {
      throw new Error(`${(error as Error).message}\n--- daemon output (tail) ---\n${node.output.split('\n').slice(-40).join('\n')}`, { cause: error });
    } finally {
      await node.terminate();
    }
  } finally {
    // The hook's server runs in web-1's namespace, outside the lab's own children: stop it by its PID.
    const pid = await alive(serverPid);
    if (pid) process.kill(pid, 'SIGKILL');
    await pl.dispose();
    await work.dispose();
  }
});
