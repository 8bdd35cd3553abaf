// The `api` config section (issue 12 contract: `api.listen`, `api.users`, `api.tls`): where the
// web UI and HTTP API listen, who may log in (scrypt hashes, no default password), the
// certificate, session timeouts and the request body bound. One schema: type, errors, defaults, docs.

import { optional, s, type ConfigIssue, type Infer, type StringRule } from '../config/kit.js';
import { parseListen } from '../telemetry/listen.js';
import { ipBytes } from '../os/x509.js';
import { checkPasswordHash } from './auth.js';

const isAbsolutePath: StringRule = (v) => (v.startsWith('/') && !v.includes('\0') ? undefined : 'must be an absolute path');

const isListen: StringRule = (v) =>
  parseListen(v) ? undefined : 'must be address:port, e.g. 127.0.0.1:8080, 198.51.100.2:8443 or [::1]:8080 (port 1-65535)';

// Names go into the audit log and the UI as they are: keep them plain.
const isUserName: StringRule = (v) => (/^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/.test(v) ? undefined : 'must be 1-64 characters: letters, digits, _ . @ -');

/** 127.0.0.0/8 and ::1 (also IPv4-mapped): the only addresses served without users or over plain HTTP. */
export function isLoopback(host: string): boolean {
  const v4 = /^(?:::ffff:)?(\d+)\.\d+\.\d+\.\d+$/i.exec(host);
  if (v4) return v4[1] === '127';
  return /^(0{0,4}:){2,7}0{0,3}1$/.test(host) || host === '::1';
}

export const DEFAULT_API_LISTEN = ['127.0.0.1:8080'];
export const DEFAULT_SESSION = { idleMinutes: 30, absoluteHours: 8 };
export const DEFAULT_MAX_BODY_BYTES = 262_144;

const user = s.object({
  name: s.string('a user name', isUserName).describe('Login name; shown in the audit log of every change it makes.', { example: 'admin' }),
  passwordHash: s.string('scrypt$N$r$p$salt$hash', (v) => checkPasswordHash(v)).describe('The password as `tandem passwd --hash` prints it (scrypt; the password itself is never stored).'),
});

export const apiSchema = s
  .object({
    listen: optional(
      s
        .list(s.string('address:port', isListen), 1)
        .describe(
          'Addresses to serve the web UI and API on. Loopback addresses are plain HTTP; any other address is HTTPS only, and is served only when `api.users` has a user.',
          { example: ['127.0.0.1:8080', '198.51.100.2:8443'] },
        ),
      DEFAULT_API_LISTEN,
    ),
    users: optional(
      s.list(user.describe('One web UI user.')).describe('Who may log in. No default password: with no user nobody can log in and only loopback is served.'),
      [],
    ),
    tls: optional(
      s
        .object({
          cert: s.string('an absolute path', isAbsolutePath).describe('PEM certificate (chain) for HTTPS.'),
          key: s.string('an absolute path', isAbsolutePath).describe("PEM private key of the certificate; keep it 0600."),
        })
        .describe('The HTTPS certificate. When absent, a self-signed one is made on first start and kept in `<node.stateDir>/api/`; its fingerprint is logged and shown in status.'),
    ),
    session: optional(
      s
        .object({
          idleMinutes: optional(s.int(1, 1440).describe('A session unused this long ends.'), DEFAULT_SESSION.idleMinutes),
          absoluteHours: optional(s.int(1, 168).describe('A session ends this long after login, used or not.'), DEFAULT_SESSION.absoluteHours),
        })
        .describe('Login sessions (kept in memory: a restart logs everyone out).'),
      DEFAULT_SESSION,
    ),
    maxBodyBytes: optional(s.int(1024, 16 * 1024 * 1024).describe('Largest request body accepted; larger ones get 413.'), DEFAULT_MAX_BODY_BYTES),
  })
  .describe('The web UI and HTTP API (README "Web UI and HTTP API"). Off when absent.');

export type ApiConfig = Infer<typeof apiSchema>;

/** What no single field can say: unique names and listen addresses, no user on the open network. */
export function apiConfigIssues(api: ApiConfig | undefined): ConfigIssue[] {
  if (!api) return [];
  const issues: ConfigIssue[] = [];
  const names = new Map<string, number>();
  api.users.forEach((u, i) => {
    const first = names.get(u.name);
    if (first !== undefined) issues.push({ path: `api.users[${i}].name`, message: `${JSON.stringify(u.name)} is already api.users[${first}]` });
    else names.set(u.name, i);
  });
  const seen = new Map<string, number>();
  api.listen.forEach((text, i) => {
    const where = parseListen(text);
    if (!where) return;
    // By the address's bytes: [::1] and [0:0:0:0:0:0:0:1] are one socket.
    const key = `${ipBytes(where.host).toString('hex')}|${where.port}`;
    const first = seen.get(key);
    if (first !== undefined) issues.push({ path: `api.listen[${i}]`, message: `${text} is already api.listen[${first}]` });
    else seen.set(key, i);
  });
  return issues;
}
