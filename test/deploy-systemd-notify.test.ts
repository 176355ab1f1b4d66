// agent/systemd-notify.ts against the real `systemd-notify` command. No systemd runs as PID 1
// here, so the service manager's end of NOTIFY_SOCKET is a small Python receiver that does what
// PID 1 does with each datagram: read it, close any passed file descriptors (that is what
// releases systemd-notify's barrier wait), and report the text. Node cannot bind a Unix datagram
// socket, which is the very reason the agent shells out.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SystemdNotifier } from '../agent/systemd-notify.js';

const RECEIVER = `
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("listening", flush=True)
while True:
    msg, anc, _flags, _addr = s.recvmsg(4096, socket.CMSG_SPACE(16 * 4))
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            for i in range(0, len(data) - len(data) % 4, 4):
                os.close(int.from_bytes(data[i:i + 4], sys.byteorder))
    print(msg.decode().replace("\\n", "|"), flush=True)
`;

function hasCommand(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('systemd-notify helper', () => {
  let dir: string;
  let receiver: ChildProcess | undefined;
  let lines: string[];

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'wp-notify-'));
    lines = [];
  });
  afterEach(() => {
    receiver?.kill();
    receiver = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  async function startReceiver(): Promise<string> {
    const sock = path.join(dir, 'notify.sock');
    const child = spawn('python3', ['-c', RECEIVER, sock], { stdio: ['ignore', 'pipe', 'inherit'] });
    receiver = child;
    let buf = '';
    await new Promise<void>((resolve, reject) => {
      child.once('error', reject);
      child.stdout?.on('data', (d: Buffer) => {
        buf += d.toString();
        const parts = buf.split('\n');
        buf = parts.pop() ?? '';
        for (const p of parts) {
          if (p === 'listening') resolve();
          else lines.push(p);
        }
      });
    });
    return sock;
  }

  it('is a no-op without NOTIFY_SOCKET, and reports why', async () => {
    const n = new SystemdNotifier({ env: {} });
    expect(n.enabled).toBe(false);
    expect(await n.ready()).toEqual({ sent: false, reason: 'no-notify-socket' });
    expect(n.watchdogMs()).toBeUndefined();
    const stop = n.startWatchdog();
    stop();
  });

  it('reads the watchdog interval systemd sets, only for this process', () => {
    expect(new SystemdNotifier({ env: { WATCHDOG_USEC: '30000000' } }).watchdogMs()).toBe(30_000);
    expect(
      new SystemdNotifier({
        env: { WATCHDOG_USEC: '30000000', WATCHDOG_PID: String(process.pid) },
      }).watchdogMs(),
    ).toBe(30_000);
    expect(
      new SystemdNotifier({ env: { WATCHDOG_USEC: '30000000', WATCHDOG_PID: '1' } }).watchdogMs(),
    ).toBeUndefined();
    expect(new SystemdNotifier({ env: { WATCHDOG_USEC: 'x' } }).watchdogMs()).toBeUndefined();
  });

  it.runIf(hasCommand('systemd-notify') && hasCommand('python3'))(
    'sends READY=1, STATUS and WATCHDOG=1 through the real systemd-notify, waiting for the barrier',
    async () => {
      const sock = await startReceiver();
      expect(existsSync(sock)).toBe(true);
      const n = new SystemdNotifier({ env: { ...process.env, NOTIFY_SOCKET: sock }, timeoutMs: 5000 });
      expect(await n.ready('polling 3 devices')).toEqual({ sent: true });
      expect(await n.watchdog()).toEqual({ sent: true });
      expect(await n.stopping()).toEqual({ sent: true });
      // Each call waited for its barrier, so the receiver has seen every message by now.
      expect(lines.filter((l) => !l.startsWith('BARRIER='))).toEqual([
        'READY=1|STATUS=polling 3 devices',
        'WATCHDOG=1',
        'STOPPING=1',
      ]);
    },
  );

  it.runIf(hasCommand('systemd-notify') && hasCommand('python3'))(
    'pings the watchdog periodically only while the agent says it is healthy',
    async () => {
      const sock = await startReceiver();
      let healthy = true;
      const n = new SystemdNotifier({
        env: { ...process.env, NOTIFY_SOCKET: sock, WATCHDOG_USEC: '1000000' },
        timeoutMs: 5000,
      });
      const stop = n.startWatchdog(() => healthy);
      const deadline = Date.now() + 10_000;
      while (lines.filter((l) => l === 'WATCHDOG=1').length < 2 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(lines.filter((l) => l === 'WATCHDOG=1').length).toBeGreaterThanOrEqual(2);
      healthy = false;
      // Let any ping already under way land, then no more may come while unhealthy.
      await new Promise((r) => setTimeout(r, 700));
      const seen = lines.length;
      await new Promise((r) => setTimeout(r, 1500));
      expect(lines.length).toBe(seen);
      stop();
    },
  );

  it('reports a failing helper instead of throwing', async () => {
    const n = new SystemdNotifier({ env: { NOTIFY_SOCKET: path.join(dir, 'nobody-listens') } });
    const r = await n.ready();
    expect(r.sent).toBe(false);
  });
});
