// The upgrade's control commands (`tandem upgrade status|commit|IMAGE`, the API's routes): the
// daemon hands them here with its service. An install streams the named file itself, so a
// bundle never passes through the control socket.

import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { ControlReply, ControlRequest } from '../control/protocol.js';
import type { UpgradeService } from './service.js';

export type UpgradeRequest = Extract<ControlRequest, { cmd: 'upgrade-status' | 'upgrade-commit' | 'upgrade-reboot' | 'upgrade-install' }>;

export async function handleUpgradeRequest(service: UpgradeService | undefined, request: UpgradeRequest): Promise<ControlReply> {
  // The control socket answers before the daemon has started everything; the service comes last.
  if (!service) return { ok: false, error: 'the daemon is still starting: ask again in a moment' };
  switch (request.cmd) {
    case 'upgrade-status':
      return { ok: true, result: service.status() };
    case 'upgrade-commit':
      return service.commit('manual');
    case 'upgrade-reboot':
      return service.rebootIntoTrial();
    case 'upgrade-install': {
      const info = await stat(request.path).catch((error: NodeJS.ErrnoException) => error);
      if (info instanceof Error) return { ok: false, error: `cannot read ${request.path}: ${info.code ?? info.message}` };
      if (!info.isFile()) return { ok: false, error: `${request.path} is not a file` };
      // 1 MiB reads: the slot is written in pieces of that size (install.ts).
      const outcome = await service.install(createReadStream(request.path, { highWaterMark: 1024 * 1024 }), { reboot: request.reboot });
      return outcome.ok ? { ok: true, result: outcome } : { ok: false, error: `upgrade failed at ${outcome.step}: ${outcome.reason}` };
    }
  }
}
