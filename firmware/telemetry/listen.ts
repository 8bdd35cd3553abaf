// `address:port` as `telemetry.prometheus.listen` takes it (an IPv6 address in brackets, as in
// a URL): parsed once here for the schema's check and for the listener that binds it.

import { isIP } from 'node:net';

export function parseListen(text: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([0-9.]+)):(\d{1,5})$/.exec(text);
  if (!m) return undefined;
  const host = m[1] ?? m[2]!;
  const port = Number(m[3]);
  // Brackets only around IPv6, none around IPv4: "[198.51.100.1]:80" is as wrong as "::1:80".
  if (isIP(host) !== (m[1] !== undefined ? 6 : 4) || port < 1 || port > 65535) return undefined;
  return { host, port };
}

/** The schema's rule: undefined when fine, else what is wrong. */
export function checkListen(text: string): string | undefined {
  return parseListen(text) ? undefined : 'must be address:port, e.g. 127.0.0.1:9120 or [2001:db8::1]:9120 (port 1-65535)';
}
