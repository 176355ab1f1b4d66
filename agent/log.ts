// Logs: JSON lines (pino) for journald, or short human-readable lines in a terminal. Secrets are
// redacted by key name as a second line of defence; the code never passes them in the first place.
import { type Logger, pino } from 'pino';

const LEVELS: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO ',
  40: 'WARN ',
  50: 'ERROR',
  60: 'FATAL',
};

/** A tiny pretty-printer: `12:00:00.123 INFO  message key=value …`. */
export function prettyLine(line: string): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const { level, time, msg, pid: _pid, hostname: _host, ...rest } = rec;
  const t = typeof time === 'number' ? new Date(time).toISOString().slice(11, 23) : '';
  const extras = Object.entries(rest)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return `${t} ${LEVELS[level as number] ?? String(level)} ${String(msg ?? '')}${extras ? ` ${extras}` : ''}\n`;
}

export function createLogger(opts: { level: string; format: 'auto' | 'json' | 'pretty' }): Logger {
  const pretty = opts.format === 'pretty' || (opts.format === 'auto' && process.stderr.isTTY === true);
  const base = {
    level: opts.level,
    base: { pid: process.pid },
    redact: { paths: ['password', 'secretKey', '*.password', '*.secretKey'], censor: '[redacted]' },
  };
  if (!pretty) return pino(base, pino.destination({ fd: 2, sync: true }));
  return pino(base, {
    write(line: string) {
      process.stderr.write(prettyLine(line));
    },
  });
}
