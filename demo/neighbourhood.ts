// The neighbourhood's composition root: the hub (embedded broker, SQLite ledger, API, the contracts
// engine with the validator on the sample policy and an auction market, the dashboard) in a data
// folder, the homes (simulators + agents), the households as participants, the trade planner and
// the status line. start() brings them up in that order; stop() takes them down in reverse (agents
// finish first so the hub receives what they send, then the hub, then the files).
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino, { type Logger } from 'pino';
import type { Clock } from '../agent/clock.js';
import { loadOrCreateValidatorKey } from '../hub/engine/validator-key.js';
import { Hub, LEDGER_FILE, VALIDATOR_KEY_FILE } from '../hub/hub.js';
import { type GridModel, readGridModelFile } from '../hub/validator/congestion/grid-model.js';
import { policyHashOf } from '../hub/validator/policy.js';
import { type DashboardLogin, dashboardConfig, dashboardLogin, LOGIN_FILE } from './dashboard-login.js';
import { type HomeTiming, homeProfile, SimulatedHome, siteOf } from './home.js';
import {
  CURRENCY,
  type DemoTerms,
  demoMarketRules,
  demoTerms,
  regionOf,
  writeDemoPolicy,
} from './market-setup.js';
import { formatStatus, type StatusFigures, type StatusLine } from './status.js';
import {
  type DemoState,
  demoClock,
  morningOf,
  readDemoState,
  STATE_FILE,
  writeDemoState,
} from './timeline.js';
import { type HomeForecast, planTrades, type TradePlan } from './trades.js';
import { Trading } from './trading.js';

export const SETTLEMENT_MINUTES = [1, 5, 15, 30, 60] as const;
export const MAX_HOMES = 500;

export interface DemoOptions {
  homes: number;
  /** Simulated time runs this many times faster than real time. */
  speed: number;
  dataDir: string;
  fresh: boolean;
  /** Settlement interval, minutes; default: what the data folder was started with, else 15. */
  settlementMinutes?: number;
  /** HTTP port of the hub API (0: a free one). */
  httpPort: number;
  /** Plain status lines (stdout not a terminal) at most this often. */
  statusEveryMs: number;
}

/** The repository (or installed package) root, from demo/ or dist/demo/. */
export function packageRoot(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const up = path.resolve(here, '..');
  return path.basename(up) === 'dist' ? path.resolve(up, '..') : up;
}

/** Real seconds between two reads of one meter: slower with many homes, so the machine keeps up. */
export function homeTiming(speed: number, settlementMinutes: number, homes: number): HomeTiming {
  const periodS = settlementMinutes * 60;
  const realPollS = Math.max(0.5, homes / 40);
  const pollSeconds = Math.min(Math.max(1, Math.round(speed * realPollS)), Math.floor(periodS / 4), 3600);
  return {
    settlementMinutes,
    pollSeconds,
    lateReadingSeconds: Math.min(600, Math.floor(periodS / 2), Math.max(30, pollSeconds * 2)),
    telemetrySeconds: Math.min(3600, Math.max(10, Math.round(speed * 5))),
  };
}

/** --fresh removes only a folder the demo made (or an empty one), never anything else. */
function removeDemoFolder(dir: string): void {
  if (!existsSync(dir)) return;
  const names = readdirSync(dir);
  if (names.length > 0 && !names.includes(STATE_FILE) && !names.includes('hub')) {
    throw new Error(
      `${dir} is not a demo data folder (no ${STATE_FILE}); refusing to delete it. Pick another --data.`,
    );
  }
  rmSync(dir, { recursive: true, force: true });
}

function operatorToken(file: string): string {
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const t = randomBytes(32).toString('base64url');
  writeFileSync(file, `${t}\n`, { mode: 0o600, flag: 'wx' });
  return t;
}

export interface ValidatorSample {
  line: string;
  region: string;
  busOf(n: number): string;
  policyFile?: string;
}

/** The validator's sample grid and policy (adapted to the demo's timing, see market-setup.ts). */
function loadValidatorSample(root: string, dataDir: string, terms: DemoTerms): ValidatorSample {
  let grid: GridModel;
  try {
    grid = readGridModelFile(path.join(root, 'hub/validator/grids/pjm-5-bus.yaml'));
  } catch (err) {
    return {
      line: `the sample grid did not load (${(err as Error).message}); the simple rule sets review, homes sit on bus-1`,
      region: 'north',
      busOf: () => 'bus-1',
    };
  }
  const buses = grid.buses.map((b) => b.id);
  const written = writeDemoPolicy(
    path.join(root, 'deploy/hub/validator-policy.example.yaml'),
    dataDir,
    grid,
    terms,
  );
  const policy = written
    ? `policy ${written.policy.name} (${policyHashOf(written.policy).slice(0, 12)}…, ${written.file})`
    : 'the simple rule sets (no sample policy found)';
  return {
    line:
      `in the hub, signing its reviews with DATA/hub/${VALIDATOR_KEY_FILE}: ${policy}; sample grid ${grid.name} ` +
      `(${grid.buses.length} buses, ${grid.lines.length} lines): homes sit on buses ${buses.join(', ')} in turn, region ${regionOf(grid)}`,
    region: regionOf(grid),
    busOf: (n) => buses[(n - 1) % buses.length] ?? 'A',
    ...(written ? { policyFile: written.file } : {}),
  };
}

/** What a household may export or import, W: its PV's peak, plus the battery's inverter. */
function capacityOf(n: number): number {
  const p = homeProfile(n);
  return Math.max(1000, p.pvPeakW + (p.batteryWh > 0 ? 5000 : 0));
}

export class Neighbourhood {
  private statusTimer: NodeJS.Timeout | undefined;
  private allProofsAnnounced = false;
  private plan: TradePlan = { contracts: [], orders: [] };
  private planFor = -1;
  /** The start of the last window planned: each window is planned once. */
  private plannedWindow = -1;
  /** Submissions run one after another, off the status tick. */
  private submitting: Promise<void> = Promise.resolve();
  private stopping: Promise<void> | undefined;
  /** Each gateway's last chain seq in the ledger when this run began (-1: none). */
  private readonly headAtStart = new Map<string, number>();

  private constructor(
    readonly o: DemoOptions,
    readonly hub: Hub,
    readonly homes: SimulatedHome[],
    readonly clock: Clock,
    readonly state: DemoState,
    readonly validator: ValidatorSample,
    readonly operatorTokenFile: string,
    readonly login: { user: string; password: string; file: string },
    readonly trading: Trading,
    readonly terms: DemoTerms,
    private readonly out: StatusLine,
    private readonly log: Logger,
    private readonly startVirtualMs: number,
  ) {
    for (const h of homes) this.headAtStart.set(h.gatewayId, hub.ledger.gatewayHead(h.gatewayId)?.seq ?? -1);
  }

  get ledgerFile(): string {
    return path.join(this.o.dataDir, 'hub', LEDGER_FILE);
  }

  get periodMs(): number {
    return this.state.settlementMinutes * 60_000;
  }

  static async start(o: DemoOptions, out: StatusLine): Promise<Neighbourhood> {
    if (o.fresh) removeDemoFolder(o.dataDir);
    mkdirSync(o.dataDir, { recursive: true, mode: 0o700 });
    const log = pino(
      { level: 'info' },
      pino.destination({ dest: path.join(o.dataDir, 'demo.log'), sync: true }),
    );
    const stateFile = path.join(o.dataDir, STATE_FILE);
    const previous = readDemoState(stateFile);
    const realNow = Date.now();
    const settlementMinutes = previous?.settlementMinutes ?? o.settlementMinutes ?? 15;
    if (previous && o.settlementMinutes !== undefined && o.settlementMinutes !== previous.settlementMinutes) {
      out.print(
        `note: this data folder settles every ${previous.settlementMinutes} min; --interval ${o.settlementMinutes} is ignored (use --fresh to change it)`,
      );
    }
    const homesStartMs = previous?.homesStartMs ?? morningOf(realNow);
    const state: DemoState = {
      format: 'wattproof-demo-state/1',
      homesStartMs,
      lastVirtualMs: previous?.lastVirtualMs ?? homesStartMs,
      settlementMinutes,
      homes: Math.max(previous?.homes ?? 0, o.homes),
      // Coarse enough to replay a long-running neighbourhood quickly, fine enough for 1-min intervals.
      stepMs: previous?.stepMs ?? 5000,
    };
    writeDemoState(stateFile, state);
    const clock = demoClock(o.speed, state.lastVirtualMs, realNow);
    const tokenFile = path.join(o.dataDir, 'operator-token');
    const token = operatorToken(tokenFile);
    const terms = demoTerms(settlementMinutes * 60_000);
    const validator = loadValidatorSample(packageRoot(), o.dataDir, terms);
    const hubDir = path.join(o.dataDir, 'hub');
    // The hub would make the validator key on its first start; the dashboard must know its public
    // key before, to trust the decisions signed with it.
    const { key: validatorKey } = loadOrCreateValidatorKey(path.join(hubDir, VALIDATOR_KEY_FILE));
    const loginFile = path.join(o.dataDir, LOGIN_FILE);
    const login: DashboardLogin = dashboardLogin(loginFile);
    const timing = homeTiming(o.speed, settlementMinutes, o.homes);
    const market = demoMarketRules(terms);

    const hub = await Hub.start({
      dataDir: hubDir,
      checkpointEvery: 256,
      checkpointIntervalMs: 1000,
      gapWaitMs: 30_000,
      maxPendingPerGateway: 1000,
      verifyWorkers: 1,
      http: { host: '127.0.0.1', port: o.httpPort },
      operatorToken: token,
      broker: { kind: 'embedded', host: '127.0.0.1', port: 0 },
      tokenTtlMs: 15 * 60_000,
      maxEnrolFailures: 10,
      enrolFailureWindowMs: 600_000,
      dashboard: await dashboardConfig(login, validatorKey.publicKey, CURRENCY),
      engine: {
        currency: CURRENCY,
        // Late proofs: an agent signs an interval's proof up to lateReadingSeconds after its end,
        // and delivering it takes a few real seconds; never longer than one interval.
        settlementGraceMs: Math.min(terms.periodMs, (timing.lateReadingSeconds + 5 * o.speed) * 1000),
        ...(validator.policyFile ? { validatorPolicyFile: validator.policyFile } : {}),
        market,
        clock: () => clock.now(),
        tickMs: 200,
      },
      log: log.child({ part: 'hub' }),
    });
    const homes: SimulatedHome[] = [];
    try {
      // A few at a time: each enrolment and Modbus discovery is a burst of work.
      for (let first = 1; first <= o.homes; first += 8) {
        const batch = [];
        for (let n = first; n < Math.min(first + 8, o.homes + 1); n++) {
          batch.push(
            SimulatedHome.start({
              n,
              dir: path.join(o.dataDir, 'homes', siteOf(n)),
              homesStartMs,
              stepMs: state.stepMs,
              clock,
              timing,
              brokerUrl: hub.brokerUrl,
              hubUrl: hub.httpUrl,
              operatorToken: token,
              log: log.child({ part: 'agent' }),
            }),
          );
        }
        const started = await Promise.allSettled(batch);
        for (const r of started) if (r.status === 'fulfilled') homes.push(r.value);
        const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (failed) throw failed.reason;
      }
      const trading = new Trading({
        hubUrl: hub.httpUrl,
        operatorToken: token,
        region: validator.region,
        terms,
        market: true,
        now: () => clock.now(),
        log: log.child({ part: 'trading' }),
      });
      await trading.register(
        homes.map((h) => ({
          site: h.site,
          gw: h.gatewayId,
          bus: validator.busOf(h.n),
          capacityW: capacityOf(h.n),
          stateDir: path.join(o.dataDir, 'homes', h.site, 'state'),
        })),
      );
      return new Neighbourhood(
        o,
        hub,
        homes,
        clock,
        state,
        validator,
        tokenFile,
        { ...login, file: loginFile },
        trading,
        terms,
        out,
        log,
        clock.now(),
      );
    } catch (err) {
      await Promise.allSettled(homes.map((h) => h.stop()));
      await hub.stop();
      throw err;
    }
  }

  /** Starts refreshing the status line (and the trade plan at each interval boundary). */
  run(): void {
    const tick = () => {
      try {
        this.tick();
      } catch (err) {
        this.log.error({ event: 'status-failed', err: (err as Error).message });
      }
    };
    tick();
    this.statusTimer = setInterval(tick, 250);
  }

  figures(): StatusFigures {
    const now = this.clock.now();
    let online = 0;
    let signed = 0;
    let inLedger = 0;
    let withProofs = 0;
    for (const h of this.homes) {
      const s = h.agent.status;
      if (s.broker?.connected) online++;
      for (const d of s.devices) signed += d.proofs;
      const head = this.hub.ledger.gatewayHead(h.gatewayId);
      if (head?.seq !== null && head?.seq !== undefined) {
        withProofs++;
        inLedger += head.seq + 1;
      }
    }
    const cp = this.hub.ledger.latestCheckpoint();
    return {
      virtualMs: now,
      homes: this.homes.length,
      online,
      homesWithProofs: withProofs,
      proofsSigned: signed,
      proofsInLedger: inLedger,
      entries: this.hub.ledger.size,
      checkpoint: cp ? { size: cp.size, ageMs: Date.now() - cp.createdMs } : undefined,
      contracts: this.contractsText(),
    };
  }

  /** Whether the ledger holds a proof of this home's made in this run. */
  private newProofs(h: SimulatedHome): boolean {
    const seq = this.hub.ledger.gatewayHead(h.gatewayId)?.seq;
    return typeof seq === 'number' && seq > (this.headAtStart.get(h.gatewayId) ?? -1);
  }

  /** Contracts by status, from the engine's fold of the ledger. */
  contractCounts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const rec of Object.values(this.hub.engine?.ledgerState.contracts ?? {}))
      counts[rec.status] = (counts[rec.status] ?? 0) + 1;
    return counts;
  }

  private contractsText(): string {
    const c = this.contractCounts();
    const n = (...s: string[]) => s.reduce((a, k) => a + (c[k] ?? 0), 0);
    const auctions = this.hub.engine?.marketState.auctions.size ?? 0;
    return (
      `${n('settled', 'closed', 'disputed')} settled, ${n('active', 'delivering', 'stopping')} running, ` +
      `${n('signing', 'proposed', 'approved')} in review, ${n('refused')} refused; ${auctions} auctions cleared ` +
      `(plan: ${this.plan.contracts.length} bilateral, ${this.plan.orders.length} orders)`
    );
  }

  private tick(): void {
    const now = this.clock.now();
    const interval = Math.floor(now / this.periodMs);
    if (interval !== this.planFor) {
      this.planFor = interval;
      const plan = this.planNext(now);
      if (plan) this.submit(plan);
    }
    const f = this.figures();
    if (!this.allProofsAnnounced && f.homes > 0 && this.homes.every((h) => this.newProofs(h))) {
      this.allProofsAnnounced = true;
      const intervals = (now - this.startVirtualMs) / this.periodMs;
      this.out.print(
        `new proofs from all ${f.homes} homes are in the ledger (sim ${new Date(now).toISOString()}, ${intervals.toFixed(2)} intervals after start)`,
      );
    }
    this.out.update(formatStatus(f));
    this.state.lastVirtualMs = now;
  }

  /** Posts the plan's contracts and orders, after what was posted before. */
  private submit(plan: TradePlan): void {
    this.plan = plan;
    this.submitting = this.submitting
      .then(() => this.trading.submit(plan))
      .catch((err: unknown) =>
        this.log.error({ event: 'trades-not-submitted', err: (err as Error).message }),
      );
  }

  /**
   * The trades for the next interval, from each home's expected surplus. Its window starts at the
   * next boundary, or the one after when the next is too close for review and the auction's gate.
   */
  private planNext(now: number): TradePlan | undefined {
    let windowStart = (Math.floor(now / this.periodMs) + 1) * this.periodMs;
    if (windowStart - now < this.terms.gateClosureLeadMs) windowStart += this.periodMs;
    if (windowStart <= this.plannedWindow) return undefined;
    this.plannedWindow = windowStart;
    const forecasts: HomeForecast[] = this.homes.map((h) => ({
      site: h.site,
      gw: h.gatewayId,
      bus: this.validator.busOf(h.n),
      surplusWh: h.expectedSurplusWh(windowStart, this.periodMs),
    }));
    const plan = planTrades(forecasts, {
      windowStart,
      intervalMs: this.periodMs,
      intervals: 1,
      maxContracts: Math.max(1, Math.floor(this.homes.length / 3)),
      referenceMinorPerKWh: 25,
    });
    this.log.info({ event: 'trade-plan', windowStart, ...plan }, 'trades planned');
    return plan;
  }

  /** Agents finish, then the hub closes, then the state is saved. Safe to call twice. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      if (this.statusTimer) clearInterval(this.statusTimer);
      this.out.end();
      // What is being posted finishes first (the hub still answers).
      await this.submitting;
      const results = await Promise.allSettled(this.homes.map((h) => h.stop()));
      // Everything received is appended and covered by a signed checkpoint before the hub closes.
      await this.hub.settle();
      await this.hub.stop();
      this.state.lastVirtualMs = this.clock.now();
      writeDemoState(path.join(this.o.dataDir, STATE_FILE), this.state);
      this.log.flush();
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    })();
    return this.stopping;
  }
}
