// Parses `conntrackd -s` (the general statistics of conntrack-tools 1.4.x, src/cache.c and
// src/channel.c dumps) into the counters Tandem's status shows. Pure; unknown lines are skipped.

export interface ConntrackCounters {
  /** Entries of this node's own kernel table that conntrackd tracks (the MASTER's). */
  internal: number;
  /** Entries received from the peer, waiting to be committed on takeover (the BACKUP's). */
  external: number;
  externalCreated: number;
  externalFailed: number;
  bytesSent: number;
  bytesReceived: number;
  packetsSent: number;
  packetsReceived: number;
  sendErrors: number;
  receiveErrors: number;
  malformed: number;
  lost: number;
  /** The channel in use, e.g. "UDP" on "sync". */
  channel?: string;
  device?: string;
}

export function parseConntrackStats(text: string): ConntrackCounters | undefined {
  const out: ConntrackCounters = {
    internal: 0, external: 0, externalCreated: 0, externalFailed: 0,
    bytesSent: 0, bytesReceived: 0, packetsSent: 0, packetsReceived: 0,
    sendErrors: 0, receiveErrors: 0, malformed: 0, lost: 0,
  };
  let cache: 'internal' | 'external' | undefined;
  let seen = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const cacheHead = /^cache (internal|external):/.exec(line);
    if (cacheHead) {
      cache = cacheHead[1] as 'internal' | 'external';
      seen = true;
      continue;
    }
    if (line === '') {
      cache = undefined;
      continue;
    }
    const active = /^current active connections:\s+(\d+)/.exec(line);
    if (active && cache) {
      out[cache] = Number(active[1]);
      continue;
    }
    const created = /^connections created:\s+(\d+)\s+failed:\s+(\d+)/.exec(line);
    if (created && cache === 'external') {
      out.externalCreated = Number(created[1]);
      out.externalFailed = Number(created[2]);
      continue;
    }
    const channel = /^(\S+) traffic \(active device=([^)]*)\):/.exec(line);
    if (channel) {
      out.channel = channel[1]!;
      out.device = channel[2]!;
      continue;
    }
    const pair = /^(\d+) (Bytes|Pckts|Error) (sent|send)\s+(\d+) (?:Bytes|Pckts|Error) recv/.exec(line);
    if (pair) {
      const [sent, received] = [Number(pair[1]), Number(pair[4])];
      if (pair[2] === 'Bytes') [out.bytesSent, out.bytesReceived] = [sent, received];
      else if (pair[2] === 'Pckts') [out.packetsSent, out.packetsReceived] = [sent, received];
      else [out.sendErrors, out.receiveErrors] = [sent, received];
      continue;
    }
    const tracking = /^(\d+) Malformed msgs\s+(\d+) Lost msgs/.exec(line);
    if (tracking) {
      out.malformed = Number(tracking[1]);
      out.lost = Number(tracking[2]);
    }
  }
  return seen ? out : undefined;
}
