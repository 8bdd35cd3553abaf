// The control socket's protocol: one JSON request per line, one JSON reply per line, over a
// UNIX socket that only root can reach. Requests are a closed union so the daemon, the CLI
// and tests agree on every command's shape.

export type ControlRequest =
  | { cmd: 'status' }
  | { cmd: 'demote'; by: number }
  | { cmd: 'demote'; reset: true }
  | { cmd: 'maintenance'; on: boolean }
  | { cmd: 'failover' }
  | { cmd: 'drain'; host: string; on: boolean; pool?: string }
  | { cmd: 'reload' }
  | { cmd: 'firewall-apply'; confirmWithinSeconds?: number }
  | { cmd: 'firewall-confirm' }
  | { cmd: 'firewall-status' }
  | { cmd: 'power-status' }
  | { cmd: 'power-wake'; host: string }
  | { cmd: 'power-park'; host: string }
  | { cmd: 'power-pin'; host: string; on: boolean }
  | { cmd: 'sync-status' }
  | { cmd: 'sync-diff' }
  | { cmd: 'sync-push'; force: boolean }
  | { cmd: 'upgrade-status' }
  | { cmd: 'upgrade-commit' }
  /** Reboot into an upgrade written with reboot false (the web UI asks after a confirmation). */
  | { cmd: 'upgrade-reboot' }
  /** The daemon streams the bundle from `path` itself (the CLI only names it). */
  | { cmd: 'upgrade-install'; path: string; reboot: boolean };

export type ControlReply = { ok: true; result: unknown } | { ok: false; error: string };

export function parseRequest(line: string): ControlRequest | { error: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return { error: 'request is not JSON' };
  }
  if (typeof parsed !== 'object' || parsed === null) return { error: 'request must be a JSON object' };
  const request = parsed as Record<string, unknown>;
  switch (request.cmd) {
    case 'status':
    case 'failover':
    case 'reload':
      return { cmd: request.cmd };
    case 'demote':
      if (request.reset === true) return { cmd: 'demote', reset: true };
      if (typeof request.by === 'number' && Number.isInteger(request.by) && Math.abs(request.by) <= 255) {
        return { cmd: 'demote', by: request.by };
      }
      return { error: 'demote needs "by" (an integer -255..255) or "reset": true' };
    case 'maintenance':
      if (typeof request.on === 'boolean') return { cmd: 'maintenance', on: request.on };
      return { error: 'maintenance needs "on": true or false' };
    case 'firewall-confirm':
    case 'firewall-status':
      return { cmd: request.cmd };
    case 'drain': {
      if (typeof request.host !== 'string' || request.host === '') return { error: 'drain needs "host" (a host name or address)' };
      if (typeof request.on !== 'boolean') return { error: 'drain needs "on": true or false' };
      if (request.pool !== undefined && typeof request.pool !== 'string') return { error: 'drain: "pool" must be a pool name' };
      return { cmd: 'drain', host: request.host, on: request.on, ...(request.pool !== undefined ? { pool: request.pool as string } : {}) };
    }
    case 'power-status':
      return { cmd: 'power-status' };
    case 'sync-status':
    case 'sync-diff':
      return { cmd: request.cmd };
    case 'sync-push':
      if (request.force !== undefined && typeof request.force !== 'boolean') return { error: 'sync-push: "force" must be true or false' };
      return { cmd: 'sync-push', force: request.force === true };
    case 'power-wake':
    case 'power-park':
      if (typeof request.host !== 'string' || request.host === '') return { error: `${request.cmd} needs "host" (a managed host's name)` };
      return { cmd: request.cmd, host: request.host };
    case 'power-pin':
      if (typeof request.host !== 'string' || request.host === '') return { error: 'power-pin needs "host" (a managed host\'s name)' };
      if (typeof request.on !== 'boolean') return { error: 'power-pin needs "on": true or false' };
      return { cmd: 'power-pin', host: request.host, on: request.on };
    case 'upgrade-status':
    case 'upgrade-commit':
    case 'upgrade-reboot':
      return { cmd: request.cmd };
    case 'upgrade-install':
      if (typeof request.path !== 'string' || !request.path.startsWith('/')) return { error: 'upgrade-install needs "path" (the bundle\'s absolute path)' };
      if (typeof request.reboot !== 'boolean') return { error: 'upgrade-install needs "reboot": true or false' };
      return { cmd: 'upgrade-install', path: request.path, reboot: request.reboot };
    case 'firewall-apply': {
      const s = request.confirmWithinSeconds;
      if (s === undefined) return { cmd: 'firewall-apply' };
      if (typeof s === 'number' && Number.isInteger(s) && s >= 1 && s <= 86_400) return { cmd: 'firewall-apply', confirmWithinSeconds: s };
      return { error: 'firewall-apply: "confirmWithinSeconds" must be an integer 1..86400' };
    }
    default:
      return { error: `unknown command ${JSON.stringify(request.cmd)}` };
  }
}
