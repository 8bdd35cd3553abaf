// A small JSON-lines logger on stdout (pino's line shape: time, level, msg, fields), with
// child loggers carrying context such as the vhid.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(context: Record<string, unknown>): Logger;
}

export type LogSink = (line: string) => void;

export function createLogger(
  level: LogLevel,
  sink: LogSink = (line) => process.stdout.write(line + '\n'),
  context: Record<string, unknown> = {},
  now: () => number = Date.now,
): Logger {
  const threshold = RANK[level];
  const write = (lvl: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (RANK[lvl] < threshold) return;
    sink(JSON.stringify({ time: new Date(now()).toISOString(), level: lvl, msg, ...context, ...fields }));
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    child: (more) => createLogger(level, sink, { ...context, ...more }, now),
  };
}

export const silentLogger: Logger = createLogger('error', () => undefined);
