// Telling systemd the agent is up and alive (sd_notify). Node has no Unix datagram sockets, so
// each notification runs the `systemd-notify` command, which the unit allows with
// `NotifyAccess=all`. Since systemd 246, systemd-notify waits until PID 1 has processed the
// message (a notify barrier), so the old race where the helper exited before PID 1 could tell
// which unit it belonged to is gone; without --no-block that wait is what makes it reliable.
// Everything here is a no-op when NOTIFY_SOCKET is unset (a terminal, a test, another init).
import { execFile } from 'node:child_process';

export interface SystemdNotifyOptions {
  /** The environment to read NOTIFY_SOCKET and WATCHDOG_USEC from; process.env by default. */
  env?: NodeJS.ProcessEnv;
  /** The helper to run; `systemd-notify` on PATH by default. */
  command?: string;
  /** How long one notification may take before it is abandoned, in milliseconds. */
  timeoutMs?: number;
}

/** What a notification did: sent (helper exited 0), skipped (no systemd), or failed and why. */
export type NotifyResult = { sent: true } | { sent: false; reason: 'no-notify-socket' | 'busy' | string };

export class SystemdNotifier {
  private readonly env: NodeJS.ProcessEnv;
  private readonly command: string;
  private readonly timeoutMs: number;
  private inFlight = false;

  constructor(opts: SystemdNotifyOptions = {}) {
    this.env = opts.env ?? process.env;
    this.command = opts.command ?? 'systemd-notify';
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  /** True when a service manager is listening (the agent runs under Type=notify). */
  get enabled(): boolean {
    return typeof this.env.NOTIFY_SOCKET === 'string' && this.env.NOTIFY_SOCKET.length > 0;
  }

  /**
   * The watchdog interval systemd expects pings within (WatchdogSec=), in milliseconds, or
   * undefined when no watchdog is set for this process.
   */
  watchdogMs(pid: number = process.pid): number | undefined {
    const usec = Number.parseInt(this.env.WATCHDOG_USEC ?? '', 10);
    if (!Number.isSafeInteger(usec) || usec <= 0) return undefined;
    // WATCHDOG_PID, when set, names the process the watchdog is meant for (not a child of it).
    const forPid = this.env.WATCHDOG_PID;
    if (forPid !== undefined && forPid !== '' && Number.parseInt(forPid, 10) !== pid) return undefined;
    return Math.max(1, Math.floor(usec / 1000));
  }

  /** Sends raw `KEY=value` assignments, e.g. `READY=1`, `STATUS=...`. */
  notify(...assignments: string[]): Promise<NotifyResult> {
    if (!this.enabled) return Promise.resolve({ sent: false, reason: 'no-notify-socket' });
    // A ping that is still waiting for PID 1 makes the next one pointless; do not pile them up.
    if (this.inFlight) return Promise.resolve({ sent: false, reason: 'busy' });
    this.inFlight = true;
    return new Promise((resolve) => {
      execFile(
        this.command,
        assignments,
        { env: this.env, timeout: this.timeoutMs, windowsHide: true },
        (err, _stdout, stderr) => {
          this.inFlight = false;
          if (err) resolve({ sent: false, reason: String(stderr).trim() || err.message });
          else resolve({ sent: true });
        },
      );
    });
  }

  /** The service finished starting (Type=notify: until this, `systemctl start` waits). */
  ready(status?: string): Promise<NotifyResult> {
    return this.notify('READY=1', ...(status ? [`STATUS=${status}`] : []));
  }

  /** The agent is alive; systemd restarts it when these stop for longer than WatchdogSec=. */
  watchdog(): Promise<NotifyResult> {
    return this.notify('WATCHDOG=1');
  }

  /** A one-line status shown by `systemctl status wattproof-agent`. */
  status(text: string): Promise<NotifyResult> {
    return this.notify(`STATUS=${text}`);
  }

  /** The agent is shutting down on purpose (so a slow stop is not taken for a hang). */
  stopping(): Promise<NotifyResult> {
    return this.notify('STOPPING=1');
  }

  /**
   * Pings the watchdog at half its interval while `isHealthy()` says the agent is making progress
   * (e.g. the poll loop ran recently). A hung or stuck agent stops pinging and systemd restarts
   * it. Returns a function that stops the pings; a no-op when no watchdog is configured.
   */
  startWatchdog(isHealthy: () => boolean = () => true): () => void {
    const every = this.watchdogMs();
    if (every === undefined || !this.enabled) return () => {};
    const timer = setInterval(
      () => {
        if (isHealthy()) void this.watchdog();
      },
      Math.max(500, Math.floor(every / 2)),
    );
    timer.unref();
    return () => clearInterval(timer);
  }
}

const defaultNotifier = new SystemdNotifier();

/** READY=1 to systemd; a no-op when NOTIFY_SOCKET is unset. */
export function notifyReady(status?: string): Promise<NotifyResult> {
  return defaultNotifier.ready(status);
}

/** WATCHDOG=1 to systemd; a no-op when NOTIFY_SOCKET is unset. */
export function notifyWatchdog(): Promise<NotifyResult> {
  return defaultNotifier.watchdog();
}

/** STOPPING=1 to systemd; a no-op when NOTIFY_SOCKET is unset. */
export function notifyStopping(): Promise<NotifyResult> {
  return defaultNotifier.stopping();
}

/** See SystemdNotifier.startWatchdog; uses process.env. */
export function startWatchdog(isHealthy?: () => boolean): () => void {
  return defaultNotifier.startWatchdog(isHealthy);
}
