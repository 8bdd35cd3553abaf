// http mode of the relay (relayd's relay_http.c): one session per client connection reads only
// each request's head (http-head.ts), picks a host per request, and streams the body and the
// reply through as bytes, framed by Content-Length or chunked (http-body.ts), over keep-alive
// connections to the backends (backend-pool.ts). Requests on one connection, pipelined or not,
// are served in order, one at a time.

import type { Socket } from 'node:net';
import type { BackendPool, Upstream, UpstreamUser } from './backend-pool.js';
import { BodyScanner } from './http-body.js';
import {
  MAX_HEAD_BYTES,
  parseRequestHead,
  parseResponseHead,
  renderError,
  renderRequest,
  renderResponse,
  renderUpgrade,
  responseFraming,
  type RequestHead,
} from './http-head.js';
import { dial, splice, type RelayContext, type RelayTarget } from './relay-tcp.js';

/** Client bytes read ahead of the request being served before reading pauses. */
const READ_AHEAD_BYTES = 4 * MAX_HEAD_BYTES;

type Phase = 'head' | 'body' | 'wait' | 'upgraded' | 'closed';

export class HttpSession implements UpstreamUser {
  private phase: Phase = 'head';
  /** Client bytes not consumed yet: pending[offset..]. */
  private pending: Buffer | undefined;
  private offset = 0;
  private req: RequestHead | undefined;
  private reqBody: BodyScanner | undefined;
  private reqDone = false;
  private readonly tried = new Set<string>();
  private target: RelayTarget | undefined;
  private up: Upstream | undefined;
  private staleRetried = false;
  /** Upstream bytes before the reply's head is complete. */
  private resPending: Buffer | undefined;
  private resBody: BodyScanner | undefined;
  private headSent = false;
  private dechunk = false;
  /** The backend keeps the connection after this reply, framed so its end is known. */
  private upKeep = false;
  private closeAfter = false;
  private stopping = false;

  constructor(
    private readonly relay: RelayContext,
    private readonly backends: BackendPool,
    readonly client: Socket,
    private readonly source: string,
    /** 'onread': the relay adopted the connection and calls clientData itself (relay-tcp.ts adopt). */
    private readonly reads: 'events' | 'onread',
  ) {
    if (reads === 'events') client.on('data', this.clientData);
    // Flowing mode, also for onread: it is what delivers the client's 'end'.
    client.resume();
    client.on('end', this.onClientEnd);
    client.on('close', this.onClientClose);
    client.on('drain', this.onClientDrain);
  }

  /** The relay stops accepting: an idle connection closes now, a busy one after its reply. */
  drain(): void {
    this.stopping = true;
    if (this.phase === 'head' && this.unconsumed() === 0) this.client.end();
  }

  private unconsumed(): number {
    return this.pending ? this.pending.length - this.offset : 0;
  }

  /** An upgraded connection's host, once connected. */
  private tunnel: Socket | undefined;

  readonly clientData = (chunk: Buffer): void => {
    if (this.phase === 'upgraded') {
      if (this.tunnel && !this.tunnel.write(chunk)) this.client.pause();
      return;
    }
    if (this.phase === 'closed') return;
    if (this.unconsumed() === 0) {
      this.pending = chunk;
      this.offset = 0;
    } else {
      this.pending = Buffer.concat([this.pending!.subarray(this.offset), chunk]);
      this.offset = 0;
    }
    this.pump();
  };

  private readonly onClientEnd = (): void => {
    if (this.phase !== 'head') this.closeAfter = true;
    else if (this.unconsumed() === 0) this.client.end();
    else this.fail(400, 'request head cut short\n');
  };

  private readonly onClientClose = (): void => {
    this.phase = 'closed';
    this.finishUpstream(false);
  };

  private readonly onClientDrain = (): void => {
    this.up?.socket.resume();
  };

  /** Moves the client's bytes along: parses a head, or forwards body bytes. */
  private pump(): void {
    for (;;) {
      if (this.phase === 'head') {
        if (this.unconsumed() === 0) return;
        const parsed = parseRequestHead(this.pending!, this.offset, this.pending!.length);
        if (parsed === undefined) return;
        if (!parsed.ok) {
          const status = parsed.reason === 'too-large' ? 431 : 400;
          return this.fail(status, status === 431 ? 'request head too large\n' : 'malformed request head\n');
        }
        this.offset = parsed.end;
        this.startRequest(parsed.head);
        continue;
      }
      if (this.phase === 'body') {
        if (!this.up?.connected) return this.readAheadLimit();
        if (this.unconsumed() === 0) return;
        const step = this.reqBody!.advance(this.pending!, this.offset, this.pending!.length);
        if ('error' in step) return this.fail(400, `bad request body: ${step.error}\n`);
        const end = step.done ? step.end : this.pending!.length;
        const ok = this.up.socket.write(this.pending!.subarray(this.offset, end));
        this.offset = end;
        if (!ok) this.client.pause();
        if (!step.done) return;
        this.reqDone = true;
        this.phase = 'wait';
        continue;
      }
      if (this.phase === 'wait') return this.readAheadLimit();
      return;
    }
  }

  /** Pipelined or early bytes wait in memory up to a bound, then reading pauses. */
  private readAheadLimit(): void {
    if (this.unconsumed() > READ_AHEAD_BYTES) this.client.pause();
  }

  private startRequest(head: RequestHead): void {
    this.relay.counters.requests++;
    this.req = head;
    if (head.upgrade) return this.upgrade(head);
    this.reqBody = new BodyScanner(head.body);
    this.reqDone = head.body.kind === 'none';
    this.phase = this.reqDone ? 'wait' : 'body';
    this.tried.clear();
    this.staleRetried = false;
    this.pickAndSend();
  }

  private pickAndSend(): void {
    const target = this.relay.pool.pick(this.source, this.tried);
    if (!target || target.port === undefined) {
      if (this.tried.size === 0) {
        this.relay.counters.noHost++;
        return this.fail(503, `no healthy host in pool ${this.relay.name}\n`);
      }
      return this.fail(502, `no host of pool ${this.relay.name} accepted the connection\n`);
    }
    this.tried.add(target.id);
    this.target = target;
    this.relay.pool.opened(target);
    this.use(this.backends.take(target, this, this.relay.config.connectTimeoutSeconds * 1000));
  }

  private use(up: Upstream): void {
    this.up = up;
    this.resPending = undefined;
    this.resBody = undefined;
    this.headSent = false;
    if (up.connected) this.sendHead();
  }

  upstreamConnected(up: Upstream): void {
    if (up === this.up) this.sendHead();
  }

  /** Writes the request head and the body bytes already here in one go (cork: one syscall). */
  private sendHead(): void {
    const socket = this.up!.socket;
    if (this.phase !== 'body') return void socket.write(renderRequest(this.req!, this.source), 'latin1');
    socket.cork();
    socket.write(renderRequest(this.req!, this.source), 'latin1');
    // Reading may have paused while the connect was under way (readAheadLimit); pump pauses
    // it again if the host cannot take the body as fast.
    this.client.resume();
    this.pump();
    socket.uncork();
  }

  upstreamData(up: Upstream, chunk: Buffer): void {
    if (up !== this.up) return;
    let start = 0;
    if (!this.resBody) {
      const buf = this.resPending ? Buffer.concat([this.resPending, chunk]) : chunk;
      for (;;) {
        const parsed = parseResponseHead(buf, start, buf.length);
        if (parsed === undefined) {
          this.resPending = buf.subarray(start);
          return;
        }
        if (!parsed.ok) return this.badGateway(`backend sent a ${parsed.reason} response head\n`);
        const head = parsed.head;
        start = parsed.end;
        if (head.status === 101) return this.badGateway('backend switched protocols unasked\n');
        if (head.status < 200) {
          // Interim replies (100 Continue) go to 1.1 clients only (RFC 9110 section 15.2).
          if (this.req!.minor === 1) this.client.write(renderResponse(head, { minor: 1, close: false, dechunk: false }), 'latin1');
          continue;
        }
        const framing = responseFraming(this.req!.method, head);
        this.dechunk = framing.kind === 'chunked' && this.req!.minor === 0;
        this.closeAfter ||= !this.req!.keepAlive || framing.kind === 'close' || this.dechunk || this.stopping || !this.reqDone;
        this.resBody = new BodyScanner(framing);
        this.resPending = undefined;
        this.upKeep = head.keepAlive && framing.kind !== 'close';
        this.headSent = true;
        return this.body(up, buf, start, renderResponse(head, { minor: this.req!.minor, close: this.closeAfter, dechunk: this.dechunk }));
      }
    }
    this.body(up, chunk, start);
  }

  /** Forwards reply bytes from buf[start..], after `head` when the head goes out now. */
  private body(up: Upstream, buf: Buffer, start: number, head?: string): void {
    let ok = true;
    if (head !== undefined && this.dechunk) ok = this.client.write(head, 'latin1');
    const step = this.dechunk
      ? this.resBody!.advance(buf, start, buf.length, (from, to) => (ok = this.client.write(buf.subarray(from, to)) && ok))
      : this.resBody!.advance(buf, start, buf.length);
    if ('error' in step) {
      this.upKeep = false;
      return void this.client.destroy();
    }
    const end = step.done ? step.end : buf.length;
    if (this.dechunk) {
      // written range by range above
    } else if (head !== undefined) {
      // Head and body in one buffer: one write, one packet for a small reply.
      ok = this.client.write(join(head, buf, start, end));
    } else if (end > start) {
      ok = this.client.write(start === 0 && end === buf.length ? buf : buf.subarray(start, end));
    }
    if (!ok) up.socket.pause();
    if (!step.done) return;
    // Anything after the reply is a backend out of step: that connection is not reused.
    if (end < buf.length) this.upKeep = false;
    this.responseDone();
  }

  upstreamEnded(up: Upstream): void {
    if (up !== this.up) return;
    if (this.resBody?.framing.kind === 'close') {
      // A close-delimited reply ends with the backend's FIN.
      this.upKeep = false;
      return this.responseDone();
    }
    this.upstreamFailed(up, 'ECONNRESET');
  }

  upstreamDrained(up: Upstream): void {
    if (up === this.up && this.phase !== 'closed') this.client.resume();
  }

  upstreamFailed(up: Upstream, code: string): void {
    if (up !== this.up || this.phase === 'closed') return;
    this.up = undefined;
    up.release(false);
    const target = this.target!;
    const nothingBack = !this.headSent && this.resPending === undefined;
    const noBody = this.req!.body.kind === 'none';
    if (!up.connected) {
      this.relay.counters.connectFailures++;
      this.relay.pool.failed(target, code);
      this.relay.pool.closed(target);
      this.target = undefined;
      // A request without a body can go to the next host; one whose body is on its way cannot.
      if (noBody && this.tried.size <= this.relay.config.retries) return this.pickAndSend();
      return this.fail(502, `pool ${this.relay.name}: ${code}\n`);
    }
    if (up.reused && nothingBack && noBody && !this.staleRetried) {
      // A kept-alive connection the backend closed as the request went out: once more, fresh.
      this.staleRetried = true;
      return this.use(this.backends.take(target, this, this.relay.config.connectTimeoutSeconds * 1000, 'fresh'));
    }
    this.relay.pool.closed(target);
    this.target = undefined;
    if (!this.headSent) return this.fail(code === 'ETIMEDOUT' ? 504 : 502, `pool ${this.relay.name}: ${code}\n`);
    this.phase = 'closed';
    this.client.destroy();
  }

  /** The reply is complete: the backend connection is kept or closed, the next request read. */
  private responseDone(): void {
    this.finishUpstream(this.upKeep && this.reqDone);
    this.req = undefined;
    this.reqBody = undefined;
    this.resBody = undefined;
    if (this.closeAfter || this.phase === 'closed') {
      this.phase = 'closed';
      if (!this.client.destroyed) this.client.end();
      return;
    }
    this.phase = 'head';
    this.client.resume();
    if (this.stopping && this.unconsumed() === 0) return void this.client.end();
    this.pump();
  }

  private finishUpstream(keep: boolean): void {
    const up = this.up;
    this.up = undefined;
    if (up) up.release(keep);
    if (this.target) this.relay.pool.closed(this.target);
    this.target = undefined;
  }

  private badGateway(text: string): void {
    this.upKeep = false;
    this.finishUpstream(false);
    this.fail(502, text);
  }

  /** Answers with an error of the relay's own and closes the connection. */
  private fail(status: 400 | 431 | 502 | 503 | 504, text: string): void {
    this.finishUpstream(false);
    this.phase = 'closed';
    if (this.client.destroyed) return;
    if (this.headSent) return void this.client.destroy();
    this.client.end(renderError(status, text), 'latin1');
  }

  /** Upgrades (WebSocket and the like) become a spliced TCP connection to one host. */
  private upgrade(head: RequestHead): void {
    this.phase = 'upgraded';
    const client = this.client;
    client.pause();
    client.off('data', this.clientData);
    client.off('end', this.onClientEnd);
    client.off('drain', this.onClientDrain);
    const rest = this.pending!.subarray(this.offset);
    this.pending = undefined;
    dial(this.relay, client, this.source, new Set(), (upstream) => {
      upstream.write(renderUpgrade(head, this.source), 'latin1');
      if (rest.length > 0) upstream.write(rest);
      // Adopted clients' bytes keep coming through clientData, which now writes to the tunnel.
      this.tunnel = upstream;
      splice(client, upstream, this.reads);
    });
  }
}

function join(head: string, buf: Buffer, start: number, end: number): Buffer {
  const out = Buffer.allocUnsafe(head.length + end - start);
  out.write(head, 0, 'latin1');
  buf.copy(out, head.length, start, end);
  return out;
}
