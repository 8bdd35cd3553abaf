// Shelly devices as their published local APIs describe them (shelly-api-docs.shelly.cloud):
// Gen2+ RPC over HTTP GET (`/rpc/Switch.Set?id&on` → `{was_on}`, `/rpc/Switch.GetStatus?id` →
// `{id, output, ...}`, errors `{code, message}`), digest auth per the Gen2 Authentication page
// (user admin, SHA-256, qop auth, realm = device id); Gen1 `/relay/N[?turn=on|off]` → `{ison}`
// with Basic auth for restricted login. The server checks digests itself, from RFC 7616.

import { createHash, randomBytes } from 'node:crypto';
import type { FakeHttpAnswer, FakeHttpExchange } from '../../firmware/power/http.js';

const json = (status: number, body: unknown): FakeHttpAnswer => ({ status, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

export class FakeShelly {
  readonly outputs: boolean[];
  readonly realm = 'shellyplus1pm-a8032ab12345';
  private readonly nonces = new Set<string>();
  /** Requests refused for lack of (good) credentials. */
  unauthorised = 0;

  constructor(
    readonly generation: 1 | 2,
    channels: number,
    private readonly password?: string,
    private readonly gen1User = 'plugadmin',
  ) {
    this.outputs = Array.from({ length: channels }, () => false);
  }

  handle = (x: FakeHttpExchange): FakeHttpAnswer => {
    if (this.password !== undefined && !this.authorised(x)) {
      this.unauthorised++;
      if (this.generation === 1) return { status: 401, headers: { 'WWW-Authenticate': 'Basic realm="shelly1-0123AB"' }, body: '401 Unauthorized' };
      const nonce = randomBytes(4).toString('hex');
      this.nonces.add(nonce);
      return { status: 401, headers: { 'WWW-Authenticate': `Digest qop="auth", realm="${this.realm}", nonce="${nonce}", algorithm=SHA-256` } };
    }
    return this.generation === 2 ? this.rpc(x) : this.relay(x);
  };

  private rpc(x: FakeHttpExchange): FakeHttpAnswer {
    const id = Number(x.url.searchParams.get('id') ?? '0');
    if (!Number.isInteger(id) || id < 0 || id >= this.outputs.length) return json(500, { code: -105, message: `Argument 'id', value ${id} not found!` });
    if (x.url.pathname === '/rpc/Switch.Set') {
      const on = x.url.searchParams.get('on');
      if (on !== 'true' && on !== 'false') return json(500, { code: -103, message: "Invalid argument 'on'!" });
      const was = this.outputs[id]!;
      this.outputs[id] = on === 'true';
      return json(200, { was_on: was });
    }
    if (x.url.pathname === '/rpc/Switch.GetStatus') {
      return json(200, { id, source: 'http', output: this.outputs[id], apower: this.outputs[id] ? 41.5 : 0, voltage: 229.8, temperature: { tC: 38.1, tF: 100.6 } });
    }
    return json(404, { code: 404, message: `No handler for ${x.url.pathname.slice(5)}` });
  }

  private relay(x: FakeHttpExchange): FakeHttpAnswer {
    const m = /^\/relay\/(\d+)$/.exec(x.url.pathname);
    const id = m ? Number(m[1]) : -1;
    if (id < 0 || id >= this.outputs.length) return { status: 404, body: 'Not Found' };
    const turn = x.url.searchParams.get('turn');
    if (turn === 'on' || turn === 'off') this.outputs[id] = turn === 'on';
    else if (turn !== null) return { status: 400, body: 'Bad turn!' };
    return json(200, { ison: this.outputs[id], has_timer: false, timer_started: 0, timer_duration: 0, timer_remaining: 0, source: 'http' });
  }

  private authorised(x: FakeHttpExchange): boolean {
    const header = x.headers['authorization'] ?? '';
    if (this.generation === 1) {
      const basic = /^Basic (.+)$/.exec(header);
      return basic?.[1] !== undefined && Buffer.from(basic[1], 'base64').toString() === `${this.gen1User}:${this.password}`;
    }
    const p = new Map<string, string>();
    for (const m of header.replace(/^Digest\s+/i, '').matchAll(/(\w+)=(?:"([^"]*)"|([^,\s]*))/g)) p.set(m[1]!, m[2] ?? m[3] ?? '');
    const nonce = p.get('nonce') ?? '';
    if (!/^Digest /i.test(header) || p.get('username') !== 'admin' || p.get('realm') !== this.realm || !this.nonces.has(nonce)) return false;
    if (p.get('uri') !== x.url.pathname + x.url.search || p.get('qop') !== 'auth') return false;
    const ha1 = sha256(`admin:${this.realm}:${this.password}`);
    const ha2 = sha256(`${x.method}:${p.get('uri')}`);
    return p.get('response') === sha256(`${ha1}:${nonce}:${p.get('nc')}:${p.get('cnonce')}:auth:${ha2}`);
  }
}
