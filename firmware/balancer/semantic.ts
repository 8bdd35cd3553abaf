// Checks of meaning across the `balancer` section (relayd's parser: "table %s has no hosts"):
// unique pools, hosts and outputs, a timeout shorter than the interval, check fields that fit
// the check's type, and a port wherever something must connect to one.

import type { ConfigIssue } from '../config/kit.js';
import { hostIds } from './pool.js';
import { parseListen, type BalancerConfig, type CheckConfig, type CheckType, type PoolConfig } from './schema.js';

// Which check types each optional check field belongs to.
const FIELD_TYPES: Record<string, readonly CheckType[]> = {
  path: ['http', 'https'],
  method: ['http', 'https'],
  host: ['http', 'https'],
  status: ['http', 'https'],
  digest: ['http', 'https'],
  match: ['http', 'https'],
  send: ['send-expect'],
  expect: ['send-expect'],
  tls: ['https', 'tls', 'send-expect'],
  script: ['script'],
  port: ['tcp', 'send-expect', 'http', 'https', 'tls', 'script'],
};

const NEEDS_PORT: readonly CheckType[] = ['tcp', 'send-expect', 'http', 'https', 'tls'];

export function balancerIssues(balancer: BalancerConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const poolNames = new Map<string, number>();
  const tables = new Map<string, number>();
  const listens = new Map<string, number>();

  balancer.pools.forEach((pool, index) => {
    const at = `balancer.pools[${index}]`;
    const first = poolNames.get(pool.name);
    if (first !== undefined) issues.push({ path: `${at}.name`, message: `pool ${pool.name} is already defined by balancer.pools[${first}]` });
    else poolNames.set(pool.name, index);

    hostIssues(pool, at, issues);
    checkIssues(pool, at, issues);

    if (pool.redirect && pool.relay) {
      issues.push({ path: `${at}.relay`, message: 'a pool is either redirected by the kernel (redirect) or relayed (relay), not both' });
    }
    if (pool.redirect) {
      const owner = tables.get(pool.redirect.table);
      if (owner !== undefined) {
        issues.push({ path: `${at}.redirect.table`, message: `table ${pool.redirect.table} is already fed by balancer.pools[${owner}]` });
      } else tables.set(pool.redirect.table, index);
      const families = new Set(pool.hosts.map((h) => (h.address.includes(':') ? 6 : 4)));
      if (families.size > 1) {
        issues.push({ path: `${at}.hosts`, message: 'a redirect table holds one address family: use one pool for IPv4 hosts and one for IPv6' });
      }
      const ports = new Set(pool.hosts.map((h) => h.port ?? pool.port));
      if (ports.size > 1) {
        issues.push({ path: `${at}.hosts`, message: 'redirect sends every host the same port (the table holds addresses only); give the hosts one port' });
      }
    }
    if (pool.relay) {
      const listen = parseListen(pool.relay.listen);
      if (listen) {
        const key = `${normalize(listen.address)}:${listen.port}`;
        const owner = listens.get(key);
        if (owner !== undefined) issues.push({ path: `${at}.relay.listen`, message: `${pool.relay.listen} is already the listen address of balancer.pools[${owner}]` });
        else listens.set(key, index);
      }
      pool.hosts.forEach((host, hostIndex) => {
        if ((host.port ?? pool.port) === undefined) {
          issues.push({ path: `${at}.hosts[${hostIndex}].port`, message: 'a relayed host needs a port (here or as the pool\'s port)' });
        }
      });
    }
  });
  return issues;
}

function hostIssues(pool: PoolConfig, at: string, issues: ConfigIssue[]): void {
  const seen = new Map<string, number>();
  const ids = hostIds(pool);
  pool.hosts.forEach((host, index) => {
    const port = host.port ?? pool.port;
    const key = `${normalize(host.address)}|${port ?? ''}`;
    const first = seen.get(key);
    if (first !== undefined) {
      issues.push({ path: `${at}.hosts[${index}]`, message: `${host.address}${port ? ` port ${port}` : ''} is already hosts[${first}]` });
      return;
    }
    seen.set(key, index);
    const sameId = ids.indexOf(ids[index]!);
    if (sameId !== index) issues.push({ path: `${at}.hosts[${index}].name`, message: `host name ${ids[index]} is already used by hosts[${sameId}]` });
  });
}

function checkIssues(pool: PoolConfig, at: string, issues: ConfigIssue[]): void {
  const check: CheckConfig = pool.check;
  const path = `${at}.check`;
  if (check.timeoutSeconds >= check.intervalSeconds) {
    issues.push({
      path: `${path}.timeoutSeconds`,
      message: `must be less than intervalSeconds (${check.intervalSeconds}), got ${check.timeoutSeconds}`,
    });
  }
  for (const [field, types] of Object.entries(FIELD_TYPES)) {
    if ((check as Record<string, unknown>)[field] !== undefined && !types.includes(check.type)) {
      issues.push({ path: `${path}.${field}`, message: `a ${check.type} check takes no ${field} (only ${types.join(', ')})` });
    }
  }
  if (check.type === 'script' && check.script === undefined) issues.push({ path: `${path}.script`, message: 'a script check needs the script to run' });
  if (check.type === 'send-expect' && check.send === undefined && check.expect === undefined) {
    issues.push({ path: `${path}.expect`, message: 'a send-expect check needs send, expect or both' });
  }
  if (check.method === 'HEAD' && (check.digest !== undefined || check.match !== undefined)) {
    issues.push({ path: `${path}.method`, message: 'a HEAD response has no body to digest or match: use GET' });
  }
  if (check.tls?.ca !== undefined && !check.tls.verify) {
    issues.push({ path: `${path}.tls.ca`, message: 'a CA is only used with verify: true' });
  }
  if (NEEDS_PORT.includes(check.type) && check.port === undefined) {
    pool.hosts.forEach((host, index) => {
      if ((host.port ?? pool.port) === undefined) {
        issues.push({ path: `${at}.hosts[${index}].port`, message: `a ${check.type} check needs a port: set check.port, the pool's port or the host's` });
      }
    });
  }
}

function normalize(address: string): string {
  return address.includes(':') ? new URL(`http://[${address}]/`).hostname : address;
}
