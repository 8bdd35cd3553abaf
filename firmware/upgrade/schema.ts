// The `upgrade` config section (issue 15 item 4) and the bundle's manifest.json (the image
// team's contract 5), both through the schema kit, so a bad manifest is refused with the path
// of the bad field exactly as a bad config is.

import { createPublicKey } from 'node:crypto';
import { optional, s, validate, type Infer, type StringRule } from '../config/kit.js';

const isEd25519PublicKey: StringRule = (v) => {
  try {
    const key = createPublicKey(v);
    return key.asymmetricKeyType === 'ed25519' ? undefined : `must be an Ed25519 public key, is ${key.asymmetricKeyType ?? 'another kind'}`;
  } catch {
    return 'must be a PEM public key (-----BEGIN PUBLIC KEY-----, as `openssl pkey -pubout` prints it)';
  }
};

export const upgradeSchema = s
  .object({
    publicKey: optional(
      s
        .string('a PEM Ed25519 public key', isEd25519PublicKey)
        .describe('Bundles must carry manifest.json.sig made with the matching private key (`scripts/build-image --sign-key KEY.pem`); an unsigned or badly signed bundle is refused. Without it, bundles are checked by their SHA-256 only.'),
    ),
    commitAfterSeconds: optional(
      s.int(1, 3600).describe('On a trial boot, commit the new slot once Tandem has been healthy this long (every vhid out of INIT, firewall loaded, API listening, where configured).'),
      30,
    ),
    trialTimeoutSeconds: optional(
      s.int(30, 86_400).describe('An upgrade boots the new slot once; init reboots into the old slot unless it was committed within this many seconds.'),
      180,
    ),
  })
  .describe('A/B upgrades of the appliance image (`tandem upgrade`).');

export type UpgradeConfig = Infer<typeof upgradeSchema>;
export const DEFAULT_UPGRADE: UpgradeConfig = { commitAfterSeconds: 30, trialTimeoutSeconds: 180 };

export const ARCHES = ['x86_64', 'arm64'] as const;
export type Arch = (typeof ARCHES)[number];
export type Bootloader = 'grub' | 'uboot';

const isSha256: StringRule = (v) => (/^[0-9a-f]{64}$/.test(v) ? undefined : 'must be 64 lowercase hex digits');
const isVersion: StringRule = (v) => (/^[\x21-\x7e]{1,64}$/.test(v) ? undefined : 'must be 1-64 printable characters without spaces');

export const manifestSchema = s.object({
  format: s.int(1, 1).describe('Bundle format; this reader knows format 1.'),
  product: s.enumOf('tandem').describe('Always tandem.'),
  version: s.string('a version', isVersion).describe('The image version (package.json version + g<commit>).'),
  arch: s.enumOf(...ARCHES).describe('CPU architecture of the root filesystem.'),
  bootloader: s.enumOf('grub', 'uboot').describe('Which boot env the slot is started by.'),
  created: s.string('a time').describe('When the bundle was built (ISO 8601).'),
  rootfs: s.object({
    sizeBytes: s.int(1, Number.MAX_SAFE_INTEGER).describe('Size of rootfs.sqfs.'),
    sha256: s.string('a SHA-256', isSha256).describe('SHA-256 of rootfs.sqfs, hex.'),
  }),
});

export type Manifest = Infer<typeof manifestSchema>;

export type ManifestDecode = { ok: true; value: Manifest } | { ok: false; reason: string };

export function decodeManifest(bytes: Uint8Array): ManifestDecode {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (error) {
    return { ok: false, reason: `manifest.json is not JSON: ${(error as Error).message}` };
  }
  const { value, issues } = validate(manifestSchema, parsed);
  if (!value) return { ok: false, reason: `manifest.json: ${issues.map((i) => `${i.path || '(top level)'}: ${i.message}`).join('; ')}` };
  return { ok: true, value };
}
