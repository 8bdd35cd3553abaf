// `tandem status` lines for the balancer's pools: one line per pool (state, output, demand),
// one per host (state, last outcome and error, round-trip time, load).

import type { PoolStatus } from './service.js';

export function formatPools(pools: readonly PoolStatus[]): string[] {
  const lines: string[] = [];
  for (const pool of pools) {
    const output = pool.relay
      ? `relay ${pool.relay.listen} ${pool.relay.mode} ${pool.relay.algorithm} ${pool.relay.listening ? 'listening' : `NOT LISTENING (${pool.relay.listenError ?? 'starting'})`}`
      : pool.redirect
        ? `redirect table ${pool.redirect.table} [${pool.redirect.members.join(' ')}]${pool.redirect.lastError ? ` UPDATE FAILED: ${pool.redirect.lastError}` : ''}`
        : 'check only';
    lines.push(
      `  pool ${pool.name} ${pool.state.toUpperCase()}${pool.demote > 0 ? ` (demoting ${pool.demote})` : ''}  ${output}` +
        `  check ${pool.check.type} every ${pool.check.intervalSeconds} s` +
        (pool.demand.measured ? `  conns ${pool.demand.connections}  ${pool.demand.requestsPerSecond} req/s` : ''),
    );
    for (const h of pool.hosts) {
      const where = h.port !== undefined ? (h.address.includes(':') ? `[${h.address}]:${h.port}` : `${h.address}:${h.port}`) : h.address;
      const last = h.lastOutcome ? (h.lastOutcome === 'ok' ? 'ok' : `${h.lastOutcome}${h.lastError?.detail ? ` (${h.lastError.detail})` : ''}`) : 'not checked yet';
      const rtt = h.rttMs !== undefined ? `  rtt ${h.rttMs.toFixed(2)} ms` : '';
      const weight = h.weight !== 1 ? `  weight ${h.weight}` : '';
      const load = pool.demand.measured ? `  conns ${h.connections}  ${h.requestsPerSecond} req/s` : '';
      lines.push(`    ${h.id.padEnd(16)} ${where.padEnd(24)} ${h.state.padEnd(11)} ${last}${rtt}${load}${weight}  since ${h.since}`);
    }
  }
  return lines;
}
