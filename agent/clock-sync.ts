// Is the system clock synchronised? A Raspberry Pi has no real-time clock: it boots with a stale
// time until NTP steps it. The agent asks the system (timedatectl, the systemd-timesyncd marker
// file, chronyc, ntpstat) and passes the answer into every proof. The check is a dependency, so
// tests drive it (with `file`, a marker file they create and remove).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';

/** true: synchronised; false: not; undefined: this method cannot tell here. */
export type ClockSyncCheck = () => Promise<boolean | undefined>;

function run(cmd: string, args: string[]): Promise<{ code: number; out: string } | undefined> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 3000 }, (err, stdout) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') return resolve(undefined);
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, out: String(stdout) });
    });
  });
}

export const timedatectlCheck: ClockSyncCheck = async () => {
  const r = await run('timedatectl', ['show', '-p', 'NTPSynchronized', '--value']);
  if (r?.code !== 0) return undefined;
  const v = r.out.trim();
  return v === 'yes' ? true : v === 'no' ? false : undefined;
};

export function fileCheck(file: string): ClockSyncCheck {
  return async () => existsSync(file);
}

export const chronycCheck: ClockSyncCheck = async () => {
  const r = await run('chronyc', ['-n', 'tracking']);
  if (r?.code !== 0) return undefined;
  const m = /Leap status\s*:\s*(.+)/.exec(r.out);
  if (!m) return undefined;
  return m[1]?.trim() !== 'Not synchronised';
};

export const ntpstatCheck: ClockSyncCheck = async () => {
  const r = await run('ntpstat', []);
  if (!r) return undefined;
  // ntpstat: 0 synchronised, 1 not synchronised, 2 cannot tell.
  return r.code === 0 ? true : r.code === 1 ? false : undefined;
};

/** Tries each check in turn; the first that can tell decides. None can tell: not synchronised. */
export function firstAnswer(checks: ClockSyncCheck[]): ClockSyncCheck {
  return async () => {
    for (const c of checks) {
      const v = await c();
      if (v !== undefined) return v;
    }
    return false;
  };
}

export function clockSyncCheckFor(
  method: 'auto' | 'timedatectl' | 'timesyncd' | 'chronyc' | 'ntpstat' | 'file' | 'assume-synchronised',
  syncFile: string,
): ClockSyncCheck {
  const timesyncd: ClockSyncCheck = async () =>
    existsSync('/run/systemd/timesync') ? existsSync(syncFile) : undefined;
  switch (method) {
    case 'assume-synchronised':
      return async () => true;
    case 'file':
      return fileCheck(syncFile);
    case 'timesyncd':
      return firstAnswer([timesyncd]);
    case 'timedatectl':
      return firstAnswer([timedatectlCheck]);
    case 'chronyc':
      return firstAnswer([chronycCheck]);
    case 'ntpstat':
      return firstAnswer([ntpstatCheck]);
    default:
      return firstAnswer([timedatectlCheck, timesyncd, chronycCheck, ntpstatCheck]);
  }
}
