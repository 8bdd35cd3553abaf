// `tandem status` lines for the web UI and HTTP API (status key `api`, firmware/api/service.ts):
// where it serves, what it refused and why, the certificate to check, users and sessions.

import type { ApiStatus } from './service.js';

export function formatApiStatus(api: ApiStatus): string[] {
  const serving = api.listening.map((l) => l.url).join(' ') || 'nowhere';
  const lines = [`  api ${serving}  users ${api.users}  sessions ${api.sessions}`];
  if (api.tls) lines.push(`  api certificate (${api.tls.source}, until ${api.tls.validTo}) SHA-256 ${api.tls.fingerprint}`);
  for (const r of api.refused) lines.push(`  api NOT serving ${r.listen}: ${r.reason}`);
  if (api.note) lines.push(`  api: ${api.note}`);
  return lines;
}
