// The API's route table (issue 12 item 1): every endpoint, who may call it and what the audit
// log calls it. The server enforces sessions and CSRF from this table alone (types.ts), so a
// route added here cannot forget them; the handlers live by area in routes-*.ts.

import * as actions from './routes-actions.js';
import * as config from './routes-config.js';
import * as firewall from './routes-firewall.js';
import * as live from './routes-live.js';
import * as upgrade from './routes-upgrade.js';
import type { Route } from './types.js';

export { startLive, stopLive } from './routes-live.js';

export const routes: Route[] = [
  { method: 'GET', path: '/api/status', access: 'session', handle: actions.getStatus },
  { method: 'POST', path: '/api/demote', access: 'session', action: 'demote', handle: actions.postDemote },
  { method: 'POST', path: '/api/maintenance', access: 'session', action: 'maintenance', handle: actions.postMaintenance },
  { method: 'POST', path: '/api/failover', access: 'session', action: 'failover', handle: actions.postFailover },
  { method: 'GET', path: '/api/firewall', access: 'session', handle: firewall.getFirewall },
  { method: 'POST', path: '/api/firewall/apply', access: 'session', action: 'firewall apply', handle: firewall.postFirewallApply },
  { method: 'POST', path: '/api/firewall/confirm', access: 'session', action: 'firewall confirm', handle: firewall.postFirewallConfirm },
  { method: 'POST', path: '/api/firewall/check', access: 'session', handle: firewall.postFirewallCheck },
  { method: 'POST', path: '/api/pools/drain', access: 'session', action: 'pool drain', handle: actions.postDrain },
  { method: 'GET', path: '/api/power', access: 'session', handle: actions.getPower },
  { method: 'POST', path: '/api/power/wake', access: 'session', action: 'power wake', handle: actions.postWake },
  { method: 'POST', path: '/api/power/park', access: 'session', action: 'power park', handle: actions.postPark },
  { method: 'POST', path: '/api/power/pin', access: 'session', action: 'power pin', handle: actions.postPin },
  { method: 'GET', path: '/api/config', access: 'session', handle: config.getConfig },
  { method: 'POST', path: '/api/config/check', access: 'session', handle: config.postConfigCheck },
  { method: 'POST', path: '/api/config/apply', access: 'session', action: 'config apply', handle: config.postConfigApply },
  { method: 'POST', path: '/api/config/confirm', access: 'session', action: 'config confirm', handle: config.postConfigConfirm },
  { method: 'GET', path: '/api/upgrade', access: 'session', handle: upgrade.getUpgrade },
  // The raw body is the bundle, streamed into the slot as it arrives (routes-upgrade.ts bounds it).
  { method: 'POST', path: '/api/upgrade', access: 'session', action: 'upgrade', body: 'stream', handle: upgrade.postUpgrade },
  { method: 'POST', path: '/api/upgrade/commit', access: 'session', action: 'upgrade commit', handle: upgrade.postUpgradeCommit },
  { method: 'POST', path: '/api/upgrade/reboot', access: 'session', action: 'upgrade reboot', handle: upgrade.postUpgradeReboot },
  { method: 'GET', path: '/api/events', access: 'session', handle: live.getEvents },
  { method: 'GET', path: '/api/events/recent', access: 'session', handle: live.getRecentEvents },
  // Session only: a Prometheus server scrapes telemetry.prometheus.listen, which needs no login.
  { method: 'GET', path: '/metrics', access: 'session', handle: live.getMetrics },
];
