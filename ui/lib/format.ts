// Pure formatters for the web UI: durations, "since" times, energy, round-trip times and the
// names of CARP's drop counters (the same names as `tandem status --json`'s `counters`, after
// OpenBSD's carpstats). No DOM and no clock of their own: `now` is always passed in.

/** `3d 4h`, `2h 5m`, `4m 12s`, `9s`: two units at most, as an admin reads an uptime. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '—';
  const s = Math.floor(seconds);
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (d > 0) return h > 0 ? `${d}d ${h}h` : `${d}d`;
  if (h > 0) return m > 0 ? `${h}h ${m}m` : `${h}h`;
  if (m > 0) return r > 0 ? `${m}m ${r}s` : `${m}m`;
  return `${r}s`;
}

/** How long ago an ISO time was, against `now` (ms); a time in the future (clock skew) reads `just now`. */
export function since(iso: string | undefined, now: number): string {
  if (!iso) return '—';
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return '—';
  const seconds = (now - at) / 1000;
  return seconds < 1 ? 'just now' : `${formatDuration(seconds)} ago`;
}

/** `10:04:05` for today's times (UTC, as the daemon logs them), with the date otherwise. */
export function clockTime(iso: string, now: number): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return iso;
  const time = at.toISOString().slice(11, 19);
  return at.toISOString().slice(0, 10) === new Date(now).toISOString().slice(0, 10) ? time : `${at.toISOString().slice(0, 10)} ${time}`;
}

/** kWh with precision that suits the amount: `0.012 kWh`, `1.25 kWh`, `312 kWh`. */
export function formatKWh(kWh: number): string {
  if (!Number.isFinite(kWh)) return '—';
  const a = Math.abs(kWh);
  const digits = a >= 100 ? 0 : a >= 1 ? 2 : 3;
  // A rounding of a tiny negative (float noise in a difference) would print "-0.000".
  const text = kWh.toFixed(digits);
  return `${Number(text) === 0 ? (0).toFixed(digits) : text} kWh`;
}

export function formatMs(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '—';
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '—';
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value >= 100 ? 0 : 1)} ${units[unit]}`;
}

export function formatPercent(fraction: number): string {
  if (!Number.isFinite(fraction)) return '—';
  return `${Math.round(fraction * 100)}%`;
}

/** MQTT's protocol level as people name it: 4 is 3.1.1, 5 is 5.0. */
export function mqttVersion(level: number | undefined): string {
  if (level === undefined) return '—';
  const name = ({ 3: '3.1', 4: '3.1.1', 5: '5.0' } as Record<number, string>)[level];
  return name ? `${name} (level ${level})` : `level ${level}`;
}

/** CARP's per-VHID counters in the order carp(4)'s stats print them, with what each drop means. */
export const CARP_COUNTERS: readonly { key: string; label: string; means: string }[] = [
  { key: 'sent', label: 'Sent', means: 'advertisements sent' },
  { key: 'received', label: 'Received', means: 'advertisements received' },
  { key: 'short', label: 'Short', means: 'dropped: shorter than a CARP header' },
  { key: 'badVersion', label: 'Bad version', means: 'dropped: not CARP version 2' },
  { key: 'badType', label: 'Bad type', means: 'dropped: not an advertisement' },
  { key: 'badChecksum', label: 'Bad checksum', means: 'dropped: checksum failed' },
  { key: 'badAuth', label: 'Bad auth', means: 'dropped: HMAC did not match (password?)' },
  { key: 'badTtl', label: 'Bad TTL', means: 'dropped: TTL not 255 (routed from elsewhere)' },
  { key: 'badVhid', label: 'Bad VHID', means: 'dropped: VHID not configured here' },
  { key: 'loop', label: 'Loop', means: 'dropped: our own advertisement came back' },
];

/** The drops alone: what an admin scans for trouble. */
export function dropTotal(counters: Record<string, number>): number {
  let total = 0;
  for (const { key } of CARP_COUNTERS) if (key !== 'sent' && key !== 'received') total += counters[key] ?? 0;
  return total;
}

/** A CSS class suffix for a state word, so color always comes with the word itself. */
export function tone(state: string): 'good' | 'warn' | 'bad' | 'idle' {
  switch (state) {
    case 'MASTER':
    case 'up':
    case 'awake':
    case 'connected':
    case 'active':
    case 'confirmed':
    case 'applied':
    case 'done':
    case 'master':
    case 'standalone':
    case 'running':
      return 'good';
    case 'BACKUP':
    case 'parked':
    case 'unknown':
    case 'empty':
    case 'unmanaged':
    case 'backup':
      return 'idle';
    case 'down':
    case 'failed':
    case 'reverted':
    case 'refused':
    case 'stopped':
      return 'bad';
    default:
      return 'warn';
  }
}
