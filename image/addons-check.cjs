// Proves the addons in a contract-8 tree (DIR/build/Release, DIR/node_modules) load and work under
// the Node that runs this file: the appliance's Node 18, natively (x86-64, scripts/node18) or in the
// arm64 rootfs under qemu-user. Plain CommonJS, no tsx: it runs where only Node 18 is installed.
// usage: node image/addons-check.cjs DIR     prints one JSON line; exit 1 when a check failed
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const dir = path.resolve(process.argv[2] || '.');
const result = { node: process.version, modules: process.versions.modules, arch: process.arch, checks: {} };
let failed = false;
function check(name, run) {
  try {
    result.checks[name] = run();
  } catch (error) {
    failed = true;
    result.checks[name] = { error: String(error && error.message ? error.message : error) };
  }
}

// tandem_raw: its clock, and the loopback interface's details through netlink/ioctl.
check('tandem_raw', () => {
  const raw = require(path.join(dir, 'build/Release/tandem_raw.node'));
  const now = raw.monotonicNow();
  if (!(now > 0)) throw new Error(`monotonicNow() gave ${now}`);
  const lo = raw.interfaceInfo('lo');
  if (lo.index < 1 || lo.ethernet) throw new Error(`interfaceInfo('lo') gave ${JSON.stringify(lo)}`);
  return { monotonicNow: now > 0, lo: { index: lo.index, mtu: lo.mtu } };
});

// epoll (nan, ABI-bound): a FIFO's readiness must reach the callback, which is what onoff's
// interrupt watching rests on.
const onoffDir = path.join(dir, 'node_modules/onoff');
if (fs.existsSync(onoffDir)) {
  check('epoll', () => {
    const { Epoll } = require(path.join(dir, 'node_modules/epoll'));
    const fifo = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'addons-check-')), 'fifo');
    execFileSync('mkfifo', [fifo]);
    const fd = fs.openSync(fifo, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no EPOLLIN within 10 s')), 10000);
      const poller = new Epoll((error, readyFd, events) => {
        clearTimeout(timer);
        poller.remove(fd).close();
        fs.closeSync(fd);
        fs.rmSync(path.dirname(fifo), { recursive: true });
        if (error) reject(error);
        else resolve({ readyFd: readyFd === fd, events: events === Epoll.EPOLLIN });
      });
      poller.add(fd, Epoll.EPOLLIN);
      fs.writeSync(fd, 'x');
    });
  });
  check('onoff', () => {
    const { Gpio } = require(onoffDir);
    if (typeof Gpio !== 'function' || typeof Gpio.accessible !== 'boolean') throw new Error('no Gpio class');
    return { gpioAccessible: Gpio.accessible };
  });
}

(async () => {
  for (const [name, value] of Object.entries(result.checks)) {
    if (value && typeof value.then === 'function') {
      try {
        result.checks[name] = await value;
      } catch (error) {
        failed = true;
        result.checks[name] = { error: String(error && error.message ? error.message : error) };
      }
    }
  }
  result.ok = !failed;
  console.log(JSON.stringify(result));
  process.exit(failed ? 1 : 0);
})();
