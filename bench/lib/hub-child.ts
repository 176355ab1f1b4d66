// A hub in its own process for the ingest bench, so the fleet simulator and the hub do not share
// one event loop. Started by startHubProcess() below; it prints one JSON line when ready and answers
// 'usage' (its CPU time and memory) and 'stop' over the IPC channel.
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { parseHubConfig } from '../../hub/config.js';
import { type BrokerChoice, Hub, hubOptionsFromConfig } from '../../hub/hub.js';

export interface HubChildOptions {
  dataDir: string;
  broker: BrokerChoice;
  operatorToken: string;
  /** Worker threads for signature checks (the hub's ingest.verifyWorkers). */
  verifyWorkers?: number;
}

export interface HubUsage {
  /** CPU time used so far, ms (user + system). */
  cpuMs: number;
  rssBytes: number;
}

export interface HubProcess {
  httpUrl: string;
  /** The verify worker threads the hub runs with. */
  verifyWorkers: number;
  brokerUrl: string;
  pid: number;
  usage(): Promise<HubUsage>;
  stop(): Promise<void>;
}

type Reply = { kind: 'usage'; usage: HubUsage } | { kind: 'stopped' };

/** Starts the hub of `opts` in a child Node process and waits until it serves. */
export function startHubProcess(opts: HubChildOptions): Promise<HubProcess> {
  const self = fileURLToPath(import.meta.url);
  // WATTPROOF_BENCH_PROFILE=DIR writes the hub process's CPU profile there (for finding hot spots).
  const profileDir = process.env.WATTPROOF_BENCH_PROFILE;
  const profile = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [];
  const child: ChildProcess = spawn(
    process.execPath,
    [...profile, '--import', 'tsx', self, JSON.stringify(opts)],
    {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    },
  );
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    if (process.env.WATTPROOF_BENCH_TRACE) process.stderr.write(c);
    stderr += c.toString('utf8');
  });
  const waiters: Array<(r: Reply) => void> = [];
  child.on('message', (m: Reply) => waiters.shift()?.(m));
  const ask = (msg: string): Promise<Reply> =>
    new Promise((resolve) => {
      waiters.push(resolve);
      child.send(msg);
    });
  return new Promise((resolve, reject) => {
    let out = '';
    const onExit = (code: number | null) => reject(new Error(`the hub process exited (${code}):\n${stderr}`));
    child.once('exit', onExit);
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString('utf8');
      const nl = out.indexOf('\n');
      if (nl === -1) return;
      child.off('exit', onExit);
      const ready = JSON.parse(out.slice(0, nl)) as {
        httpUrl: string;
        brokerUrl: string;
        verifyWorkers: number;
      };
      resolve({
        ...ready,
        pid: child.pid as number,
        usage: async () => {
          const r = await ask('usage');
          if (r.kind !== 'usage') throw new Error('unexpected reply from the hub process');
          return r.usage;
        },
        stop: async () => {
          if (child.exitCode !== null) return;
          const exited = new Promise<void>((r) => child.once('exit', () => r()));
          await ask('stop');
          await exited;
        },
      });
    });
  });
}

async function main(): Promise<void> {
  const opts = JSON.parse(process.argv[2] as string) as HubChildOptions;
  const log = pino(
    { level: 'warn' },
    pino.destination({ dest: path.join(opts.dataDir, 'hub.log'), mkdir: true, sync: false }),
  );
  // The hub's config-file defaults (hub/config.ts), with a free HTTP port and the bench's broker.
  const defaults = hubOptionsFromConfig(
    parseHubConfig({ dataDir: opts.dataDir, http: { port: 0, operatorToken: opts.operatorToken } }, '/'),
    log,
  );
  const verifyWorkers = opts.verifyWorkers ?? defaults.verifyWorkers ?? 0;
  const hub = await Hub.start({ ...defaults, broker: opts.broker, verifyWorkers });
  // WATTPROOF_BENCH_TRACE=1: a line a second on stderr with the hub's event-loop use and counts.
  if (process.env.WATTPROOF_BENCH_TRACE) {
    const { performance } = await import('node:perf_hooks');
    let elu = performance.eventLoopUtilization();
    let cpu = process.cpuUsage();
    let at = performance.now();
    setInterval(() => {
      const wall = performance.now() - at;
      at = performance.now();
      const e = performance.eventLoopUtilization(elu);
      elu = performance.eventLoopUtilization();
      const c = process.cpuUsage(cpu);
      cpu = process.cpuUsage();
      const st = hub.stats.toJSON() as unknown as Record<string, number>;
      process.stderr.write(
        `trace wall=${(wall / 1000).toFixed(2)} elu=${e.utilization.toFixed(2)} cpu=${((c.user + c.system) / 1e6).toFixed(2)} accepted=${st.accepted} receipts=${st.receiptsSent}\n`,
      );
    }, 1000).unref();
  }
  process.on('message', async (msg: string) => {
    if (msg === 'usage') {
      const u = process.cpuUsage();
      process.send?.({
        kind: 'usage',
        usage: { cpuMs: (u.user + u.system) / 1000, rssBytes: process.memoryUsage().rss },
      });
    } else if (msg === 'stop') {
      await hub.stop();
      process.send?.({ kind: 'stopped' }, () => process.exit(0));
    }
  });
  process.stdout.write(
    `${JSON.stringify({ httpUrl: hub.httpUrl, brokerUrl: hub.brokerUrl, verifyWorkers })}\n`,
  );
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    process.stderr.write(`hub process: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
