// The size report's split of the rootfs by part, the manifest and version string of the
// upgrade bundle (contracts 1 and 5 of issue 15).

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { buildManifest, bundleMembers, manifestBytes, versionString } from '../../../image/manifest.js';
import { partOf, renderSizeReport, sumByPart } from '../../../image/size-report.js';

describe('size report', () => {
  it('puts each rootfs file in its part', () => {
    const cases: [string, string][] = [
      ['usr/bin/node', 'node'],
      ['usr/lib/x86_64-linux-gnu/libnode.so.108', 'node'],
      ['usr/lib/x86_64-linux-gnu/libicudata.so.72.1', 'icu'],
      ['usr/lib/modules/6.1.0-50-amd64/kernel/net/netfilter/nf_tables.ko', 'modules'],
      ['usr/lib/tandem/dist/tandem.mjs', 'tandem'],
      ['usr/lib/tandem/dist/ui/index.html', 'ui'],
      ['usr/lib/tandem/build/Release/tandem_raw.node', 'addons'],
      ['usr/lib/tandem/node_modules/onoff/onoff.js', 'addons'],
      ['boot/vmlinuz', 'kernel'],
      ['boot/initrd.gz', 'initramfs'],
      ['usr/sbin/nft', 'other'],
    ];
    for (const [path, part] of cases) assert.equal(partOf(path), part, path);
  });

  it('sums by part and renders every part in the table', () => {
    const sums = sumByPart([['usr/bin/node', 1048576], ['usr/lib/x86_64-linux-gnu/libnode.so.108', 1048576], ['etc/passwd', 10]]);
    assert.equal(sums.node, 2097152);
    assert.equal(sums.other, 10);
    assert.equal(sums.icu, 0);
    const table = renderSizeReport({
      rootfs: sums,
      rootfsRawBytes: 2097162,
      squashfsBytes: 1048576,
      squashfsCompressor: 'xz',
      kernelBytes: 0,
      initramfsBytes: 0,
      imageBytes: 425 * 1048576,
      compressed: { bytes: 3 * 1048576, method: 'xz -T2 -6', seconds: 1 },
    });
    assert.match(table, /image, compressed \(xz -T2 -6\)\s+3\.0$/m);
    assert.match(table, /Node \+ libnode\s+2\.0$/m);
    assert.match(table, /ICU\s+0\.0$/m);
    assert.match(table, /kernel \(in the squashfs, raw\)/);
  });

  it('says where the kernel is on a U-Boot slot: after the squashfs, not in it', () => {
    const table = renderSizeReport({
      rootfs: sumByPart([]), rootfsRawBytes: 0, squashfsBytes: 0, squashfsCompressor: 'gzip', kernelBytes: 31 * 1048576, initramfsBytes: 1048576,
      kernelPlacement: 'slot-tail', imageBytes: 0, compressed: { bytes: 0, method: 'x', seconds: 0 },
    });
    assert.match(table, /kernel \(in the slot after the squashfs, before gzip\)\s+31\.0$/m);
    assert.doesNotMatch(table, /in the squashfs\)/);
  });
});

describe('manifest', () => {
  it('has the contract fields first, in order, and ends with a newline', () => {
    const manifest = buildManifest({ version: '0.1.0+gabc', arch: 'x86_64', bootloader: 'grub', created: '2026-12-03T06:00:00.000Z', rootfs: { sizeBytes: 5, sha256: 'ab' } });
    const text = manifestBytes(manifest).toString();
    assert.deepEqual(Object.keys(JSON.parse(text)), ['format', 'product', 'version', 'arch', 'bootloader', 'created', 'rootfs']);
    assert.equal(JSON.parse(text).format, 1);
    assert.ok(text.endsWith('}\n'));
  });

  it('orders bundle members manifest, signature, rootfs', () => {
    assert.deepEqual(bundleMembers(true), ['manifest.json', 'manifest.json.sig', 'rootfs.sqfs']);
    assert.deepEqual(bundleMembers(false), ['manifest.json', 'rootfs.sqfs']);
  });

  it('makes the version from package.json and the commit, or takes --version', () => {
    assert.equal(versionString('0.1.0', 'abc1234', undefined), '0.1.0+gabc1234');
    assert.equal(versionString('0.1.0', undefined, undefined), '0.1.0');
    assert.equal(versionString('0.1.0', 'abc1234', '0.2.0-test'), '0.2.0-test');
    assert.throws(() => versionString('0.1.0', 'abc', 'bad version'), /--version: "bad version"/);
  });
});
