// Kernel module selection for the trim (image/modules.ts): trees and names from the allowlist,
// closed over modules.dep, and allowlist entries that match nothing reported.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { moduleName, parseModulesDep, selectModules, unmatchedEntries } from '../../../image/modules.js';

const DEP = `kernel/net/netfilter/nf_tables.ko: kernel/net/netfilter/nfnetlink.ko kernel/lib/libcrc32c.ko
kernel/net/netfilter/nfnetlink.ko:
kernel/lib/libcrc32c.ko:
kernel/drivers/net/ethernet/intel/e1000e/e1000e.ko.xz: kernel/drivers/ptp/ptp.ko.xz
kernel/drivers/ptp/ptp.ko.xz: kernel/drivers/pps/pps_core.ko.xz
kernel/drivers/pps/pps_core.ko.xz:
kernel/drivers/gpu/drm/drm.ko:
kernel/drivers/leds/leds-gpio.ko:
kernel/drivers/platform/x86/pcengines-apuv2.ko: kernel/drivers/leds/leds-gpio.ko
`;

describe('modules', () => {
  const deps = parseModulesDep(DEP);

  it('parses modules.dep', () => {
    assert.equal(deps.size, 9);
    assert.deepEqual(deps.get('kernel/net/netfilter/nf_tables.ko'), ['kernel/net/netfilter/nfnetlink.ko', 'kernel/lib/libcrc32c.ko']);
    assert.deepEqual(deps.get('kernel/net/netfilter/nfnetlink.ko'), []);
  });

  it('names modules as modprobe does (dashes as underscores, any compression)', () => {
    assert.equal(moduleName('kernel/drivers/platform/x86/pcengines-apuv2.ko'), 'pcengines_apuv2');
    assert.equal(moduleName('kernel/drivers/ptp/ptp.ko.xz'), 'ptp');
    assert.equal(moduleName('kernel/a/b.ko.zst'), 'b');
  });

  it('keeps allowlisted trees and names plus their dependencies, nothing else', () => {
    const keep = selectModules(deps, ['net/netfilter/', 'e1000e', 'pcengines-apuv2']);
    assert.deepEqual([...keep].sort(), [
      'kernel/drivers/leds/leds-gpio.ko',
      'kernel/drivers/net/ethernet/intel/e1000e/e1000e.ko.xz',
      'kernel/drivers/platform/x86/pcengines-apuv2.ko',
      'kernel/drivers/pps/pps_core.ko.xz',
      'kernel/drivers/ptp/ptp.ko.xz',
      'kernel/lib/libcrc32c.ko',
      'kernel/net/netfilter/nf_tables.ko',
      'kernel/net/netfilter/nfnetlink.ko',
    ]);
  });

  it('matches a path entry exactly, not as a prefix of another file', () => {
    assert.deepEqual([...selectModules(deps, ['drivers/ptp/ptp.ko'])].sort(), ['kernel/drivers/pps/pps_core.ko.xz', 'kernel/drivers/ptp/ptp.ko.xz']);
    assert.equal(selectModules(deps, ['drivers/pt']).size, 0);
  });

  it('reports entries that match no module', () => {
    assert.deepEqual(unmatchedEntries(deps, ['e1000e', 'gpio-sim', 'sound/']), ['gpio-sim', 'sound/']);
  });
});
