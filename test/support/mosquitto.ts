// Starts a real Mosquitto (/usr/sbin/mosquitto) for a test: its own config file in a temp dir, a
// free 127.0.0.1 port, optional password and ACL files. Mosquitto cannot listen on port 0 and
// report the port back, so we ask the kernel for a free port, hand it to Mosquitto, and try again
// with another port if something else took it in between.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const MOSQUITTO_BIN = '/usr/sbin/mosquitto';

export interface MosquittoOptions {
  /** Directory for the config file, log and persistence; a fresh temp dir when omitted. */
  dir?: string;
  /** Path of a Mosquitto password file (see writeMosquittoPasswordFile). */
  passwordFile?: string;
  /** Path of a Mosquitto ACL file. */
  aclFile?: string;
  /** Defaults to true without a password file, false with one. */
  allowAnonymous?: boolean;
  /** Keep messages and sessions in `dir` across restart() (persistence true). Default false. */
  persistence?: boolean;
  /** Extra config lines appended verbatim (e.g. 'max_queued_messages 5000'). */
  extraConfig?: string[];
  /** Milliseconds to wait for the broker to accept connections. Default 10 000. */
  startTimeoutMs?: number;
}

export interface RunningMosquitto {
  /** mqtt://127.0.0.1:PORT */
  readonly url: string;
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly dir: string;
  readonly configFile: string;
  readonly logFile: string;
  /** The broker's process id (changes on restart). */
  pid(): number;
  /** Stops the broker (SIGTERM, then SIGKILL after 5 s) and waits for it to exit. Idempotent. */
  stop(): Promise<void>;
  /** Stops it and starts it again on the same port with the same config; clients must reconnect. */
  restart(): Promise<void>;
  /**
   * Sends SIGHUP: Mosquitto re-reads the password and ACL files. The broker gives no signal that
   * it finished, so this waits until the log shows the reload (or 5 s).
   */
  reload(): Promise<void>;
  /** The broker's log so far (useful in failure messages). */
  log(): string;
}

/** Asks the kernel for a free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}

/** Resolves true once something accepts a TCP connection on host:port. */
function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.connect(port, '127.0.0.1');
  });
}

function configText(port: number, dir: string, opts: MosquittoOptions): string {
  const allowAnonymous = opts.allowAnonymous ?? opts.passwordFile === undefined;
  const lines = [
    '# written by test/support/mosquitto.ts',
    // Mosquitto 2 started as root drops to the `mosquitto` user, which cannot read a temp dir.
    'user root',
    `listener ${port} 127.0.0.1`,
    `allow_anonymous ${allowAnonymous ? 'true' : 'false'}`,
    'set_tcp_nodelay true',
    `persistence ${opts.persistence ? 'true' : 'false'}`,
    `persistence_location ${dir}${path.sep}`,
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    'log_type notice',
    'log_type information',
    'connection_messages true',
    'log_timestamp true',
  ];
  if (opts.passwordFile) lines.push(`password_file ${opts.passwordFile}`);
  if (opts.aclFile) lines.push(`acl_file ${opts.aclFile}`);
  lines.push(...(opts.extraConfig ?? []));
  return `${lines.join('\n')}\n`;
}

export async function startMosquitto(opts: MosquittoOptions = {}): Promise<RunningMosquitto> {
  const dir = opts.dir ?? mkdtempSync(path.join(tmpdir(), 'wattproof-mosquitto-'));
  const configFile = path.join(dir, 'mosquitto.conf');
  const logFile = path.join(dir, 'mosquitto.log');
  const startTimeoutMs = opts.startTimeoutMs ?? 10_000;
  let logText = '';
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const launch = async (port: number): Promise<'up' | 'port-taken'> => {
    writeFileSync(configFile, configText(port, dir, opts));
    const proc = spawn(MOSQUITTO_BIN, ['-c', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    let hasExited = false;
    exited = new Promise((resolve) => {
      proc.once('exit', () => {
        hasExited = true;
        resolve();
      });
    });
    const onData = (chunk: Buffer) => {
      logText += chunk.toString('utf8');
      writeFileSync(logFile, logText);
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', onData);
    const deadline = Date.now() + startTimeoutMs;
    while (Date.now() < deadline) {
      if (hasExited) return /Address already in use/i.test(logText) ? 'port-taken' : failStart();
      if (await canConnect(port)) return 'up';
      await new Promise((r) => setTimeout(r, 25));
    }
    proc.kill('SIGKILL');
    await exited;
    throw new Error(
      `mosquitto did not accept connections on port ${port} within ${startTimeoutMs} ms:\n${logText}`,
    );
  };
  const failStart = (): never => {
    throw new Error(`mosquitto exited while starting (config ${configFile}):\n${logText}`);
  };

  let port = 0;
  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    if ((await launch(port)) === 'up') break;
    if (attempt >= 4) throw new Error(`mosquitto could not bind a free port after 5 attempts:\n${logText}`);
  }

  const stop = async (): Promise<void> => {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
    proc.kill('SIGTERM');
    await exited;
    clearTimeout(timer);
  };

  return {
    url: `mqtt://127.0.0.1:${port}`,
    host: '127.0.0.1',
    port,
    dir,
    configFile,
    logFile,
    pid: () => child?.pid ?? 0,
    stop,
    async restart() {
      await stop();
      // The port was ours a moment ago; Mosquitto sets SO_REUSEADDR, so it can bind it again.
      const result = await launch(port);
      if (result !== 'up') throw new Error(`mosquitto could not rebind port ${port} on restart:\n${logText}`);
    },
    async reload() {
      const proc = child;
      if (!proc) throw new Error('mosquitto is not running');
      const before = (logText.match(/Reloading config/g) ?? []).length;
      proc.kill('SIGHUP');
      const deadline = Date.now() + 5_000;
      while (Date.now() < deadline && (logText.match(/Reloading config/g) ?? []).length <= before) {
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    log: () => logText,
  };
}

/**
 * Writes a Mosquitto password file with the real `mosquitto_passwd` (PBKDF2-SHA512 hashes), so a
 * test does not depend on the hub's own hash writer to set up a broker.
 */
export function writeMosquittoPasswordFile(file: string, users: Record<string, string>): void {
  writeFileSync(file, '', { mode: 0o600 });
  for (const [user, password] of Object.entries(users)) {
    execFileSync('mosquitto_passwd', ['-b', file, user, password], { stdio: 'pipe' });
  }
}
