// Installs an upgrade bundle (contract 5) into the slot that is not running: reads the tar as
// it streams in, checks the manifest against this boot (product, format, arch, bootloader),
// verifies the Ed25519 signature when a key is configured, writes rootfs.sqfs into the other
// slot while hashing it, fsyncs, reads it back and compares the SHA-256, and only then sets the
// boot env to try that slot once. Until that last write the env is untouched, so any failure
// leaves the running slot what boots; the outcome names the step that failed and why.

import { createHash, createPublicKey, verify } from 'node:crypto';
import type { BootEnvStore } from './env.js';
import { bootPicture, otherSlot, readBootVars, startTrial, acknowledgeRollback, type BootInfo, type Slot } from './machine.js';
import type { BlockDevices } from './ports.js';
import { decodeManifest, type Manifest } from './schema.js';
import { TarError, TarReader } from './tar.js';

/** Where an install stopped: also the words the CLI, the API and the event log use. */
export type InstallStep = 'state' | 'bundle' | 'manifest' | 'signature' | 'size' | 'write' | 'verify' | 'boot-env';

export type InstallOutcome =
  | { ok: true; slot: Slot; version: string; bytes: number; sha256: string }
  | { ok: false; step: InstallStep; reason: string };

export interface InstallProgress {
  phase: 'write' | 'verify';
  slot: Slot;
  bytes: number;
  total: number;
}

export interface InstallDeps {
  boot: BootInfo;
  env: BootEnvStore;
  devices: BlockDevices;
  /** PEM Ed25519 public key (`upgrade.publicKey`): when set, only bundles it signed install. */
  publicKey: string | undefined;
  trialTimeoutSeconds: number;
  progress(progress: InstallProgress): void;
  /** Told once the manifest is accepted, before anything is written. */
  accepted?(manifest: Manifest, slot: Slot): void;
}

const MANIFEST_MAX = 64 * 1024;
const SIGNATURE_BYTES = 64;
/** Writes go out in pieces of this size: large enough for flash, small enough to interleave with CARP. */
const WRITE_CHUNK = 1024 * 1024;

class StepError extends Error {
  constructor(
    readonly step: InstallStep,
    message: string,
  ) {
    super(message);
  }
}

function fail(step: InstallStep, reason: string): never {
  throw new StepError(step, reason);
}

export async function installBundle(source: AsyncIterable<Uint8Array>, deps: InstallDeps): Promise<InstallOutcome> {
  const reader = new TarReader(source);
  try {
    return await install(reader, deps);
  } catch (error) {
    if (error instanceof StepError) return { ok: false, step: error.step, reason: error.message };
    if (error instanceof TarError) return { ok: false, step: 'bundle', reason: error.message };
    // Device errors are wrapped above with their step; what is left came from the source.
    return { ok: false, step: 'bundle', reason: `the bundle stopped arriving: ${(error as Error).message}` };
  } finally {
    await reader.close().catch(() => undefined);
  }
}

async function install(reader: TarReader, deps: InstallDeps): Promise<InstallOutcome> {
  const { boot } = deps;
  // The slot to write is the one not running, and only a committed system may overwrite it:
  // on a trial boot the other slot is the fallback the bootloader returns to.
  const vars = readBootVars(await deps.env.read().catch((error: Error) => fail('state', `cannot read the boot env: ${error.message}`)));
  if (!vars.ok) fail('state', vars.reason);
  const picture = bootPicture(boot.slot, vars.value);
  if (picture.state === 'trial') fail('state', `slot ${boot.slot} is on trial: commit it (tandem upgrade commit) or reboot before another upgrade`);
  const target = otherSlot(boot.slot);

  const first = await reader.next();
  if (first.kind !== 'member' || first.header.name !== 'manifest.json') fail('bundle', `the first member must be manifest.json, got ${first.kind === 'member' ? JSON.stringify(first.header.name) : 'the end of the archive'}`);
  const manifestBytes = await reader.readAll(MANIFEST_MAX);
  const decoded = decodeManifest(manifestBytes);
  if (!decoded.ok) fail('manifest', decoded.reason);
  const manifest = decoded.value;
  if (manifest.arch !== boot.arch) fail('manifest', `bundle is for ${manifest.arch}, this system runs ${boot.arch}`);
  if (manifest.bootloader !== boot.bootloader) fail('manifest', `bundle boots with ${manifest.bootloader}, this system with ${boot.bootloader}`);

  let member = await reader.next();
  let signature: Buffer | undefined;
  if (member.kind === 'member' && member.header.name === 'manifest.json.sig') {
    signature = await reader.readAll(SIGNATURE_BYTES);
    if (signature.length !== SIGNATURE_BYTES) fail('signature', `manifest.json.sig must be a raw ${SIGNATURE_BYTES}-byte Ed25519 signature, is ${signature.length} bytes`);
    member = await reader.next();
  }
  if (deps.publicKey !== undefined) {
    if (!signature) fail('signature', 'the bundle is not signed, and upgrade.publicKey requires a signature');
    if (!verify(null, manifestBytes, createPublicKey(deps.publicKey), signature)) fail('signature', 'the signature does not match upgrade.publicKey: the bundle was not signed by its key, or manifest.json was altered');
  }
  if (member.kind !== 'member' || member.header.name !== 'rootfs.sqfs') {
    fail('bundle', `expected rootfs.sqfs after the manifest, got ${member.kind === 'member' ? JSON.stringify(member.header.name) : 'the end of the archive'}`);
  }
  const total = member.header.size;
  if (total !== manifest.rootfs.sizeBytes) fail('manifest', `rootfs.sqfs is ${total} bytes, the manifest says ${manifest.rootfs.sizeBytes}`);

  const devicePath = boot.devices[target];
  const device = await deps.devices.open(devicePath, 'write').catch((error: Error) => fail('write', `cannot open slot ${target} (${devicePath}): ${error.message}`));
  try {
    const capacity = await device.size();
    if (total > capacity) fail('size', `rootfs.sqfs is ${total} bytes, slot ${target} (${devicePath}) holds ${capacity}`);
    deps.accepted?.(manifest, target);
    // An earlier upgrade written but not yet booted points TRIAL at the slot about to be
    // overwritten: withdraw it first, so a failure below cannot leave a half-written slot to try.
    if (picture.trial && !picture.trial.booted && picture.trial.slot === target) {
      await deps.env.update(acknowledgeRollback()).catch((error: Error) => fail('boot-env', `cannot withdraw the pending trial of slot ${target}: ${error.message}`));
    }

    const hash = createHash('sha256');
    let written = 0;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const flush = async () => {
      if (pendingBytes === 0) return;
      const chunk = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
      pending = [];
      pendingBytes = 0;
      await device.write(written, chunk).catch((error: Error) => fail('write', `slot ${target} (${devicePath}) at byte ${written}: ${error.message}`));
      written += chunk.length;
      deps.progress({ phase: 'write', slot: target, bytes: written, total });
    };
    for await (const chunk of reader.body()) {
      hash.update(chunk);
      // The source may reuse its buffer (HTTP, file streams do not; a generator might): copy.
      pending.push(Buffer.from(chunk));
      pendingBytes += chunk.length;
      if (pendingBytes >= WRITE_CHUNK) await flush();
    }
    await flush();
    // The whole archive is read before anything commits: trailing bytes make it a bad bundle.
    const end = await reader.next();
    if (end.kind !== 'end') fail('bundle', `unexpected member ${JSON.stringify(end.header.name)} after rootfs.sqfs`);
    const streamed = hash.digest('hex');
    if (streamed !== manifest.rootfs.sha256) fail('verify', `rootfs.sqfs has SHA-256 ${streamed}, the manifest says ${manifest.rootfs.sha256}`);
    await device.sync().catch((error: Error) => fail('write', `fsync of slot ${target} (${devicePath}): ${error.message}`));

    // Read the slot back through the device and hash it again: this catches writes that landed
    // elsewhere or short, and a device that does not keep what it accepted. On Linux the read
    // comes through the block cache the fsync flushed (O_DIRECT needs aligned buffers node cannot
    // promise), so flash that corrupts data after accepting it is caught by the trial boot instead.
    const back = createHash('sha256');
    for (let at = 0; at < total; at += WRITE_CHUNK) {
      const part = await device.read(at, Math.min(WRITE_CHUNK, total - at)).catch((error: Error) => fail('verify', `reading slot ${target} back at byte ${at}: ${error.message}`));
      if (part.length === 0) fail('verify', `slot ${target} ends at byte ${at} while reading back`);
      back.update(part);
      deps.progress({ phase: 'verify', slot: target, bytes: Math.min(total, at + part.length), total });
    }
    const readBack = back.digest('hex');
    if (readBack !== manifest.rootfs.sha256) fail('verify', `slot ${target} read back has SHA-256 ${readBack}, written ${manifest.rootfs.sha256}: the device did not keep the write`);
  } finally {
    await device.close().catch(() => undefined);
  }

  await deps.env.update(startTrial(target, deps.trialTimeoutSeconds)).catch((error: Error) => fail('boot-env', `slot ${target} is written and verified, but the boot env was not updated: ${error.message}`));
  return { ok: true, slot: target, version: manifest.version, bytes: total, sha256: manifest.rootfs.sha256 };
}
