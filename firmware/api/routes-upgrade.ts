// Upgrade handlers (issue 15 item 4): the status and commit as `tandem upgrade status|commit`,
// the bundle upload streamed into the other slot as it arrives (never buffered: the route takes
// the raw body, bounded by what a slot can hold rather than api.maxBodyBytes), and the reboot
// into a written upgrade, which the page asks for only after the user confirmed it.

import { fail, ok, runCommand } from './routes-common.js';
import type { ApiBackend, ApiRequest, ApiResponse } from './types.js';

type Handler = (request: ApiRequest, backend: ApiBackend) => Promise<ApiResponse>;

/** A bundle holds a manifest, a signature and a slot's worth of rootfs; 4 GiB is beyond any slot. */
export const UPLOAD_LIMIT_BYTES = 4 * 1024 * 1024 * 1024;

export const getUpgrade: Handler = (request, backend) => runCommand(backend, request, 'upgrade-status', []);

export const postUpgradeCommit: Handler = (request, backend) => runCommand(backend, request, 'upgrade-commit', []);

export const postUpgradeReboot: Handler = (request, backend) => runCommand(backend, request, 'upgrade-reboot', []);

/** Counts the bytes going by and stops the upload past `limit` (a body that never ends). */
async function* bounded(source: AsyncIterable<Uint8Array>, limit: number): AsyncGenerator<Uint8Array> {
  let seen = 0;
  for await (const chunk of source) {
    seen += chunk.length;
    if (seen > limit) throw new Error(`the upload is over ${limit} bytes`);
    yield chunk;
  }
}

/**
 * The body is the `.upgrade.tar` itself (`curl --data-binary @tandem-x86_64.upgrade.tar`);
 * `?reboot=1` reboots into it when done. Replies `{ slot, version, bytes, sha256, rebooting }`,
 * or 400/409 naming the step that refused it; progress rides the live stream's `upgrade` events.
 */
export const postUpgrade: Handler = async (request, backend) => {
  if (!backend.upgradeInstall) return fail(404, 'upgrades are not available on this node');
  if (!request.upload) return fail(400, 'the request body must be the upgrade bundle');
  if (request.uploadBytes !== undefined && request.uploadBytes > UPLOAD_LIMIT_BYTES) return { ...fail(413, `a bundle of ${request.uploadBytes} bytes is larger than any slot`), headers: { connection: 'close' } };
  const reboot = request.query.get('reboot');
  if (reboot !== null && reboot !== '0' && reboot !== '1') return fail(400, '"reboot" must be 0 or 1', { path: 'reboot' });
  let outcome;
  try {
    outcome = await backend.upgradeInstall(bounded(request.upload, UPLOAD_LIMIT_BYTES), { reboot: reboot === '1' });
  } catch (error) {
    return { ...fail(500, `upgrade failed: ${(error as Error).message}`), headers: { connection: 'close' } };
  }
  if (outcome.ok) return ok(outcome);
  // The rest of a refused upload is not worth reading: the connection closes after the reply.
  const status = outcome.step === 'state' ? 409 : outcome.step === 'write' || outcome.step === 'boot-env' ? 500 : 400;
  return { ...fail(status, `upgrade failed at ${outcome.step}: ${outcome.reason}`, { path: outcome.step }), headers: { connection: 'close' } };
};
