// Hub ingest end to end: a fleet of gateways (1,000 MQTT connections by default), enrolled through
// the hub's HTTP API, publishes signed meter proofs through a real Mosquitto and through the hub's
// embedded broker; a proof counts when its receipt (checkpoint + inclusion proof) is back at the
// gateway. Beside it, in the same run, the one-core node:crypto Ed25519 verify rate (the ceiling).
//   npm run bench -- ingest                      (--gateways N, --per-burst N to change;
//                                                 --broker embedded|mosquitto for one of them)
//   npm run bench -- ingest --quick
// The hub runs in its own process; the fleet (MQTT.js clients, pre-signed proofs) in this one.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { MosquittoFiles } from '../hub/broker/mosquitto-files.js';
import { b64url, messageHashB64 } from '../protocol/index.js';
import { type RunningMosquitto, startMosquitto } from '../test/support/mosquitto.js';
import { BenchGateway, rawVerifyRate } from './lib/fleet.js';
import { type HubProcess, startHubProcess } from './lib/hub-child.js';
import {
  benchMode,
  fmt,
  intOption,
  median,
  msSince,
  printHeader,
  printNote,
  printTable,
  quantile,
  type ResultRow,
} from './lib/report.js';

const mode = benchMode();
printHeader(
  'Hub ingest end to end (publish → verify → ledger → receipt)',
  mode,
  'node --import tsx bench/ingest.ts',
);

const GATEWAYS = intOption('gateways', mode.quick ? 10 : 1_000);
/** Proofs each gateway publishes in one saturation burst. */
const PER_BURST = intOption('per-burst', mode.quick ? 3 : 10);
const BURSTS = mode.quick ? 1 : 3;
/** Length of the paced run at half the raw verify rate, for receipt latency. */
const PACED_MS = mode.quick ? 500 : 10_000;
const DEADLINE_MS = mode.quick ? 30_000 : 120_000;
/** Both brokers by default; `--broker embedded` or `--broker mosquitto` runs one. */
const brokerArg = process.argv.indexOf('--broker');
const ONLY = brokerArg >= 0 ? process.argv[brokerArg + 1] : undefined;
if (ONLY !== undefined && ONLY !== 'embedded' && ONLY !== 'mosquitto')
  throw new Error(`--broker: "${ONLY}" is neither embedded nor mosquitto`);
/** `--verify-workers N` (0 = main thread); without it, the hub's default (ingest.verifyWorkers: auto). */
const workersArg = process.argv.indexOf('--verify-workers');
const VERIFY_WORKERS = workersArg >= 0 ? Number(process.argv[workersArg + 1]) : undefined;
if (VERIFY_WORKERS !== undefined && !(Number.isSafeInteger(VERIFY_WORKERS) && VERIFY_WORKERS >= 0))
  throw new Error(
    `--verify-workers needs a whole number of threads (0 or more), got ${process.argv[workersArg + 1]}`,
  );
const HUB_PASSWORD = b64url.encode(crypto.getRandomValues(new Uint8Array(24)));
const OPERATOR_TOKEN = b64url.encode(crypto.getRandomValues(new Uint8Array(32)));

/** CPU time (user + system) of another process so far, ms, from /proc. */
function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) in parentheses; utime and stime are
  // fields 14 and 15 counted from 1, in clock ticks (100 per second on Linux).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `fn` over `items` with at most `limit` at a time. */
async function pool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
}

interface FleetGateway {
  gw: BenchGateway;
  username: string;
  password: string;
  client?: mqtt.MqttClient;
  /** Pre-signed proofs not yet published, in chain order. */
  ready: string[];
}

/** One outstanding proof: when it was published, and when its receipt came. */
interface Flight {
  sentAt: number;
  receiptAt?: number;
  status?: string;
}

class Fleet {
  readonly flights = new Map<string, Flight>();
  receipts = 0;
  rejected = 0;
  readonly rejectReasons = new Map<string, number>();
  private waiters: Array<() => void> = [];

  constructor(readonly gateways: FleetGateway[]) {}

  onReceipt(payload: Buffer): void {
    const now = performance.now();
    const r = JSON.parse(payload.toString('utf8')) as {
      status: string;
      messageHash: string;
      reason?: string;
    };
    const f = this.flights.get(r.messageHash);
    if (!f || f.receiptAt !== undefined) return;
    f.receiptAt = now;
    f.status = r.status;
    this.receipts++;
    if (r.status === 'rejected') {
      this.rejected++;
      this.rejectReasons.set(r.reason ?? '?', (this.rejectReasons.get(r.reason ?? '?') ?? 0) + 1);
    }
    for (const w of this.waiters.splice(0)) w();
  }

  publish(g: FleetGateway): void {
    const jws = g.ready.shift();
    if (jws === undefined) throw new Error(`gateway ${g.gw.id} ran out of pre-signed proofs`);
    this.flights.set(messageHashB64(jws), { sentAt: performance.now() });
    g.client?.publish(`wattproof/v1/gw/${g.gw.id}/proof`, jws, { qos: 1 });
  }

  /** Waits until `count` receipts have come in total, or the deadline passes. */
  async waitForReceipts(count: number, deadlineMs: number): Promise<boolean> {
    const deadline = Date.now() + deadlineMs;
    while (this.receipts < count) {
      if (Date.now() > deadline) return false;
      await Promise.race([new Promise<void>((r) => this.waiters.push(r)), sleep(200)]);
    }
    return true;
  }
}

async function enrol(hub: HubProcess, g: BenchGateway): Promise<{ username: string; password: string }> {
  const auth = { authorization: `Bearer ${OPERATOR_TOKEN}`, 'content-type': 'application/json' };
  const t = await fetch(`${hub.httpUrl}/v1/enroll-tokens`, {
    method: 'POST',
    headers: auth,
    body: JSON.stringify({ site: 'bench' }),
  });
  if (t.status !== 201) throw new Error(`token: ${t.status} ${await t.text()}`);
  const { token } = (await t.json()) as { token: string };
  const e = await fetch(`${hub.httpUrl}/v1/enroll`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token, publicKey: b64url.encode(g.key.publicKey) }),
  });
  if (e.status !== 201) throw new Error(`enrol: ${e.status} ${await e.text()}`);
  const body = (await e.json()) as { mqtt: { username: string; password: string } };
  return body.mqtt;
}

interface PacedResult {
  rate: number;
  sent: number;
  lost: number;
  latencies: number[];
}

interface BrokerResult {
  broker: string;
  throughput: number[];
  /** At half the one-core verify rate, then at half the burst throughput. */
  paced: PacedResult[];
  setupMs: { enrol: number; connect: number };
  hubCpuPer1000: number;
  /** The fleet simulator's own CPU (this process) per 1000 proofs in the bursts. */
  fleetCpuPer1000: number;
  /** Mosquitto's CPU per 1000 proofs (undefined for the embedded broker, inside the hub). */
  brokerCpuPer1000: number | undefined;
  hubRssMiB: number;
  verifyWorkers: number;
  rejected: number;
  rejectReasons: string;
}

async function runAgainst(
  label: string,
  startBroker: (dir: string) => Promise<{ hub: HubProcess; stop: () => Promise<void>; brokerPid?: number }>,
  pacedRate: number,
): Promise<BrokerResult> {
  const dir = mkdtempSync(path.join(tmpdir(), 'wattproof-bench-ingest-'));
  const { hub, stop, brokerPid } = await startBroker(dir);
  const clients: mqtt.MqttClient[] = [];
  try {
    // Warm-up (1 each), the bursts, and the two paced runs (the second is slower than the first).
    const perGateway = 1 + PER_BURST * BURSTS + 2 * Math.ceil((pacedRate * PACED_MS) / 1000 / GATEWAYS) + 4;
    const gateways: FleetGateway[] = Array.from({ length: GATEWAYS }, () => {
      const gw = new BenchGateway();
      return {
        gw,
        username: '',
        password: '',
        ready: Array.from({ length: perGateway }, () => gw.nextProof()),
      };
    });
    const fleet = new Fleet(gateways);

    let t = process.hrtime.bigint();
    await pool(gateways, 8, async (g) => {
      const creds = await enrol(hub, g.gw);
      g.username = creds.username;
      g.password = creds.password;
    });
    const enrolMs = msSince(t);

    t = process.hrtime.bigint();
    await pool(gateways, 50, async (g) => {
      for (let attempt = 0; ; attempt++) {
        try {
          const client = await mqtt.connectAsync(hub.brokerUrl, {
            username: g.username,
            password: g.password,
            clientId: g.gw.id,
            reconnectPeriod: 0,
            connectTimeout: 10_000,
            protocolVersion: 4,
          });
          client.on('message', (_topic, payload) => fleet.onReceipt(payload));
          await client.subscribeAsync(`wattproof/v1/gw/${g.gw.id}/receipt`, { qos: 1 });
          g.client = client;
          clients.push(client);
          return;
        } catch (err) {
          // Mosquitto reloads its password file on SIGHUP after each enrolment: a connect racing
          // the last reload is refused once.
          if (attempt >= 5) throw err;
          await sleep(200);
        }
      }
    });
    const connectMs = msSince(t);

    // Warm-up, not timed: one proof from every gateway, so the first burst does not pay for the
    // JIT, the prepared statements and the broker's first deliveries.
    for (const g of gateways) fleet.publish(g);
    let expected = GATEWAYS;
    if (!(await fleet.waitForReceipts(expected, DEADLINE_MS))) {
      throw new Error(
        `${label}: only ${fleet.receipts} of ${expected} warm-up receipts within ${DEADLINE_MS} ms`,
      );
    }

    // Saturation: every gateway publishes PER_BURST proofs at once; the rate is proofs whose
    // receipt came back, over the time from the first publish to the last receipt.
    const cpuBefore = (await hub.usage()).cpuMs;
    const fleetBefore = process.cpuUsage();
    const brokerBefore = brokerPid ? processCpuMs(brokerPid) : 0;
    const throughput: number[] = [];
    for (let b = 0; b < BURSTS; b++) {
      const start = performance.now();
      for (let k = 0; k < PER_BURST; k++) for (const g of gateways) fleet.publish(g);
      const publishedAt = performance.now();
      expected += PER_BURST * GATEWAYS;
      if (!(await fleet.waitForReceipts(expected, DEADLINE_MS))) {
        throw new Error(`${label}: only ${fleet.receipts} of ${expected} receipts within ${DEADLINE_MS} ms`);
      }
      throughput.push(((PER_BURST * GATEWAYS) / (performance.now() - start)) * 1000);
      if (process.env.WATTPROOF_BENCH_TRACE)
        process.stderr.write(
          `burst ${b}: published in ${fmt(publishedAt - start)} ms, last receipt at ${fmt(performance.now() - start)} ms\n`,
        );
    }
    const cpuAfter = (await hub.usage()).cpuMs;
    const fleetUsed = process.cpuUsage(fleetBefore);
    const brokerCpuMs = brokerPid ? processCpuMs(brokerPid) - brokerBefore : 0;

    // Paced: `rate` proofs/s spread over the fleet, in 10 ms ticks, for PACED_MS; the latency of
    // each receipt from its publish. First at the issue's load (half the one-core verify rate),
    // then at half of what this run sustained in the bursts (a load the machine keeps up with).
    const paced = async (rate: number): Promise<PacedResult> => {
      const before = new Set(fleet.flights.keys());
      const pacedStart = performance.now();
      let sent = 0;
      let gi = 0;
      while (performance.now() - pacedStart < PACED_MS) {
        const due = Math.floor(((performance.now() - pacedStart) / 1000) * rate);
        for (; sent < due; sent++) {
          const g = gateways[gi++ % GATEWAYS] as FleetGateway;
          if (g.ready.length === 0) break;
          fleet.publish(g);
        }
        await sleep(10);
      }
      expected += sent;
      const done = await fleet.waitForReceipts(expected, DEADLINE_MS);
      const latencies: number[] = [];
      let lost = 0;
      for (const [hash, f] of fleet.flights) {
        if (before.has(hash)) continue;
        if (f.receiptAt === undefined) lost++;
        else latencies.push(f.receiptAt - f.sentAt);
      }
      if (!done && latencies.length === 0)
        throw new Error(`${label}: no receipts in the paced run at ${rate}/s`);
      // Whatever missed the deadline still counts as sent; later phases wait for their own.
      expected = fleet.receipts + lost;
      return { rate, sent, lost, latencies };
    };
    const atTarget = await paced(pacedRate);
    const sustainable = await paced(Math.max(10, Math.round(median(throughput) / 2)));
    const usage = await hub.usage();
    return {
      broker: label,
      throughput,
      paced: [atTarget, sustainable],
      setupMs: { enrol: enrolMs, connect: connectMs },
      hubCpuPer1000: ((cpuAfter - cpuBefore) / (BURSTS * PER_BURST * GATEWAYS)) * 1000,
      fleetCpuPer1000: ((fleetUsed.user + fleetUsed.system) / 1000 / (BURSTS * PER_BURST * GATEWAYS)) * 1000,
      brokerCpuPer1000: brokerPid ? (brokerCpuMs / (BURSTS * PER_BURST * GATEWAYS)) * 1000 : undefined,
      hubRssMiB: usage.rssBytes / 2 ** 20,
      verifyWorkers: hub.verifyWorkers,
      rejected: fleet.rejected,
      rejectReasons: [...fleet.rejectReasons].map(([r, n]) => `${r} ${n}`).join(', '),
    };
  } finally {
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
    await hub.stop().catch(() => undefined);
    await stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

// The ceiling: node:crypto Ed25519 verify on one core, cached keys, measured in this run.
const rawVerify = rawVerifyRate(mode.quick);
const pacedRate = mode.quick ? 20 : Math.max(10, Math.round(rawVerify / 2));

const embedded =
  ONLY === 'mosquitto'
    ? undefined
    : await runAgainst(
        'embedded broker (Aedes)',
        async (dir) => {
          const hub = await startHubProcess({
            dataDir: path.join(dir, 'hub'),
            broker: { kind: 'embedded', host: '127.0.0.1', port: 0 },
            operatorToken: OPERATOR_TOKEN,
            ...(VERIFY_WORKERS !== undefined ? { verifyWorkers: VERIFY_WORKERS } : {}),
          });
          return { hub, stop: async () => undefined };
        },
        pacedRate,
      );

const mosquitto =
  ONLY === 'embedded'
    ? undefined
    : await runAgainst(
        'Mosquitto 2',
        async (dir) => {
          const passwordFile = path.join(dir, 'passwd');
          const aclFile = path.join(dir, 'acl');
          const pidFile = path.join(dir, 'mosquitto.pid');
          new MosquittoFiles({
            passwordFile,
            aclFile,
            pidFile,
            hubUsername: 'hub',
            hubPassword: HUB_PASSWORD,
          }).write('');
          // The production settings of deploy/mosquitto/mosquitto.conf that matter for a burst.
          const broker: RunningMosquitto = await startMosquitto({
            dir,
            passwordFile,
            aclFile,
            extraConfig: [
              'max_queued_messages 100000',
              'max_inflight_messages 100',
              'message_size_limit 65536',
              'connection_messages false',
            ],
          });
          writeFileSync(pidFile, `${broker.pid()}\n`);
          try {
            const hub = await startHubProcess({
              dataDir: path.join(dir, 'hub'),
              broker: {
                kind: 'external',
                url: broker.url,
                username: 'hub',
                password: HUB_PASSWORD,
                mosquitto: { passwordFile, aclFile, pidFile },
              },
              operatorToken: OPERATOR_TOKEN,
              ...(VERIFY_WORKERS !== undefined ? { verifyWorkers: VERIFY_WORKERS } : {}),
            });
            return { hub, stop: () => broker.stop(), brokerPid: broker.pid() };
          } catch (err) {
            await broker.stop();
            throw err;
          }
        },
        pacedRate,
      );

const ref = 'node:crypto Ed25519 verify, one core';
const rows: ResultRow[] = [];
const results = [embedded, mosquitto].filter((r): r is BrokerResult => r !== undefined);
const cores = availableParallelism();
const p99 = (p: PacedResult) => (p.latencies.length ? quantile(p.latencies, 0.99) : Number.NaN);
for (const r of results) {
  const cpuPer1000 = r.hubCpuPer1000 + r.fleetCpuPer1000 + (r.brokerCpuPer1000 ?? 0);
  // Every proof costs the machine this much CPU in all (hub, fleet, broker): the most the cores
  // here could carry end to end, however the work were spread.
  const machineBound = (cores * 1000 * 1000) / cpuPer1000;
  rows.push(
    {
      what: `${r.broker}: proofs in the ledger with receipt back, ${GATEWAYS} gateways, bursts of ${PER_BURST * GATEWAYS}`,
      value: median(r.throughput),
      unit: 'proofs/s',
      runs: r.throughput.length,
      reference: ref,
      referenceValue: rawVerify,
      note: `CPU per 1000 proofs: hub ${fmt(r.hubCpuPer1000)} ms, fleet ${fmt(r.fleetCpuPer1000)} ms${r.brokerCpuPer1000 !== undefined ? `, Mosquitto ${fmt(r.brokerCpuPer1000)} ms` : ' (the broker runs inside the hub)'}; hub RSS ${fmt(r.hubRssMiB)} MiB; verify worker threads ${r.verifyWorkers}; setup: enrol ${fmt(r.setupMs.enrol / 1000)} s, connect ${fmt(r.setupMs.connect / 1000)} s${r.rejected ? `; REJECTED ${r.rejected}: ${r.rejectReasons}` : ''}`,
    },
    {
      what: `${r.broker}: the same, against what ${cores} cores can carry at these CPU costs per proof`,
      value: median(r.throughput),
      unit: 'proofs/s',
      runs: r.throughput.length,
      reference: `${cores} cores ÷ (hub + fleet + broker CPU per proof)`,
      referenceValue: machineBound,
    },
  );
  for (const p of r.paced) {
    const which = p === r.paced[0] ? 'half the one-core verify rate' : 'half the burst throughput';
    rows.push(
      {
        what: `${r.broker}: receipt latency p50 at ${fmt(p.rate)} proofs/s (${which})`,
        value: p.latencies.length ? quantile(p.latencies, 0.5) : Number.NaN,
        unit: 'ms',
        runs: p.latencies.length,
        note: `${p.sent} sent in ${PACED_MS / 1000} s, ${p.lost} without a receipt by the deadline`,
      },
      {
        what: `${r.broker}: receipt latency p99 at ${fmt(p.rate)} proofs/s (${which})`,
        value: p99(p),
        unit: 'ms',
        runs: p.latencies.length,
        reference: 'target',
        referenceValue: 1000,
      },
    );
  }
}
printTable(rows);
const best = Math.max(...results.map((r) => median(r.throughput)));
if (mode.quick) printNote('Quick mode: the loads are too small to judge the targets.');
else
  printNote(
    `Target (issue 13): end-to-end ≥ the one-core verify rate (${fmt(rawVerify)}/s here): ` +
      `${best >= rawVerify ? 'met' : `not met (${fmt((best / rawVerify) * 100)}%)`}; p99 < 1 s at half that load: ` +
      `${results.map((r) => `${r.broker} ${p99(r.paced[0] as PacedResult) < 1000 ? 'met' : 'not met'}`).join(', ')}; ` +
      `p99 < 1 s at half the sustained load: ${results.map((r) => `${r.broker} ${p99(r.paced[1] as PacedResult) < 1000 ? 'met' : 'not met'}`).join(', ')}.`,
  );
printNote(
  "Receipts wait for a signed checkpoint (every 4096 entries or 500 ms, the hub's config defaults), so latency includes that wait. " +
    `The fleet simulator and the broker share the ${cores} cores with the hub: the end-to-end figures are a floor for the hub alone ` +
    '(bench/ingest-core.ts measures the hub without them).',
);
