// The agent's composition root: polls each meter at its own interval, feeds the metering core,
// signs and stores a proof per meter and interval (outbox first, then the uplink), batches
// telemetry, watches the clock, watches the contracts the hub sends (signing a fulfilment event
// per side once a window closes), and writes a status file for `wattproof-agent status`. Every
// dependency is passed in, so tests run it on a temp dir with a real broker and real devices.
import path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { signJws } from '../protocol/index.js';
import {
  formatIssues,
  GATEWAY_STATUS_TYP,
  MAX_TELEMETRY_SAMPLES,
  type MeterIdentity,
  type MeterProof,
  parseMeterProof,
  TELEMETRY_TYP,
  type TelemetrySample,
} from '../protocol/messages/index.js';
import type { Clock } from './clock.js';
import type { ClockSyncCheck } from './clock-sync.js';
import { type AgentConfig, settlementPeriodMs } from './config.js';
import {
  ContractWatcher,
  type ContractWatcherDeps,
  ContractWatchStore,
  DEFAULT_GRACE_MS,
  enqueueOnOutbox,
  type HubKey,
  receiveContract,
  type WatcherEvent,
} from './contracts/index.js';
import { credentialsPath } from './credentials.js';
import { loadHubKey } from './dispatch/hub-key.js';
import { writeFileAtomic } from './files.js';
import type { GatewayIdentity } from './identity.js';
import type { MeterCarrier, MeterSource } from './meter-source.js';
import { type MeterEvent, MeterIntervals, type MeterTiming } from './metering.js';
import type { Outbox } from './outbox.js';
import { METER_PROOF_TYP, meterProofPayload } from './proof.js';
import { TelemetryBuffer } from './telemetry.js';
import type { MqttCredentials, Uplink } from './uplink.js';

export const STATUS_FILE = 'status.json';
/** How long the contract watcher keeps its record of this gateway's proofs (agent clock). */
const PROOF_RETENTION_MS = 2 * 24 * 3600_000;
const PRUNE_EVERY_MS = 3600_000;

/**
 * The contract watcher, with a check that fails (a broken database) logged instead of thrown out
 * of a timer: the metering goes on, and the next recheck tries again.
 */
class GuardedContractWatcher extends ContractWatcher {
  constructor(
    deps: ContractWatcherDeps,
    private readonly onError: (err: unknown) => void,
  ) {
    super(deps);
  }

  override check(): ReturnType<ContractWatcher['check']> {
    try {
      return super.check();
    } catch (err) {
      this.onError(err);
      return [];
    }
  }
}

export interface AgentDeps {
  config: AgentConfig;
  identity: GatewayIdentity;
  clock: Clock;
  clockSync: ClockSyncCheck;
  sources: MeterSource[];
  outbox: Outbox;
  log: Logger;
  /**
   * Builds the uplink (tests may leave it out to run offline). `onContract` takes the contracts
   * the hub sends on gw/{id}/cmd/contract; an uplink built without it does not subscribe.
   */
  uplink?: (
    statusJws: (state: 'online' | 'offline', at?: number) => string,
    onContract: (text: string) => void,
  ) => Uplink;
  /**
   * The hub's key, to check market-made contracts (hub-signed market matches) with; default: read
   * from the credentials file `wattproof-agent enroll` wrote, each time one arrives.
   */
  hubKey?: () => HubKey | null;
  /** Contract watcher timing (tests); defaults: grace 30 min, recheck 60 s of the agent's clock. */
  contractWatch?: { graceMs?: number; recheckMs?: number };
  version: string;
  /** base64url SHA-256 of the config file's bytes (for the birth status). */
  configHash: string;
  credentials?: MqttCredentials;
}

interface MeterRuntime {
  source: MeterSource;
  pollMs: number;
  timing: MeterTiming;
  intervals: MeterIntervals;
  identity: MeterIdentity | undefined;
  /** What the meter measures, from its latest reading (absent: electricity). */
  carrier: MeterCarrier | undefined;
  lastReading: { at: number; importWh: number; exportWh: number; powerW: number | null } | null;
  lastError: string | null;
  proofs: number;
  skipped: number;
  busy: Promise<void> | null;
  cancel: (() => void) | null;
}

export interface AgentStatus {
  gatewayId: string;
  version: string;
  pid: number;
  updatedAt: number;
  running: boolean;
  eventLoopDelayMaxMs: number;
  storageError: string | null;
  clock: { synchronised: boolean; lastJumpAt: number | null };
  broker: {
    url: string;
    connected: boolean;
    connects: number;
    lastConnectedAt: number | null;
    lastError: string | null;
  } | null;
  outbox: {
    pending: number;
    oldestSeq: number | null;
    oldestCreatedAt: number | null;
    rejected: number;
    headSeq: number;
  };
  lastReceipt: { seq: number; index: number; leafHash: string; status: string; at: number } | null;
  telemetry: { buffered: number; dropped: number; sent: number };
  contracts: { watching: number; received: number; refused: number; eventsSigned: number };
  devices: Array<{
    name: string;
    role: string;
    health: string;
    lastError: string | null;
    lastReading: MeterRuntime['lastReading'];
    openInterval: { start: number; flags: string[] } | null;
    proofs: number;
    skippedIntervals: number;
  }>;
}

export class Agent {
  private readonly meters: MeterRuntime[];
  private readonly telemetry: TelemetryBuffer;
  private readonly periodMs: number;
  private uplink: Uplink | undefined;
  private synced = false;
  private lastJumpAt: number | null = null;
  private cancels: Array<() => void> = [];
  private running = false;
  /** The last outbox write error, while it lasts (shown by status). */
  private storageError: string | null = null;
  /** How late timers fire: a busy process reads its meters late. */
  private readonly loopDelay = monitorEventLoopDelay({ resolution: 20 });
  /**
   * performance.now() (real ms) when a poll round last finished, failed reads included: the
   * systemd watchdog pings only while this keeps moving.
   */
  lastLoopAt = performance.now();
  private readonly contractStore: ContractWatchStore;
  private contractWatcher: GuardedContractWatcher | undefined;
  private readonly contractStats = { received: 0, refused: 0, eventsSigned: 0 };
  /** A proof was stored but not recorded for the watcher; catch up from the outbox. */
  private proofRecordsBehind = false;

  constructor(private readonly d: AgentDeps) {
    const c = d.config;
    this.periodMs = settlementPeriodMs(c);
    this.telemetry = new TelemetryBuffer(c.telemetry.bufferSize);
    // On the outbox's own database: an event is signed, stored and marked in one transaction.
    this.contractStore = new ContractWatchStore(d.outbox.db);
    this.meters = d.sources.map((source) => {
      const dc = c.devices.find((x) => x.name === source.name);
      const pollMs = (dc?.pollSeconds ?? 5) * 1000;
      const restored = d.outbox.meterState(source.name);
      const timing: MeterTiming = {
        periodMs: this.periodMs,
        pollMs,
        lateMs: c.gateway.lateReadingSeconds * 1000,
        jumpToleranceMs: c.clock.jumpToleranceSeconds * 1000,
      };
      return {
        source,
        pollMs,
        timing,
        intervals: new MeterIntervals(timing, restored),
        identity: undefined,
        carrier: undefined,
        lastReading: null,
        lastError: null,
        proofs: 0,
        skipped: 0,
        busy: null,
        cancel: null,
      };
    });
  }

  get status(): AgentStatus {
    const o = this.d.outbox;
    const depth = o.depth();
    const up = this.uplink;
    return {
      gatewayId: this.d.identity.gatewayId,
      version: this.d.version,
      pid: process.pid,
      updatedAt: this.d.clock.now(),
      running: this.running,
      eventLoopDelayMaxMs: Math.round(this.loopDelay.max / 1e6),
      storageError: this.storageError,
      clock: { synchronised: this.synced, lastJumpAt: this.lastJumpAt },
      broker: up
        ? {
            url: this.d.config.hub.url,
            connected: up.connected,
            connects: up.stats.connects,
            lastConnectedAt: up.stats.lastConnectedAt,
            lastError: up.stats.lastError,
          }
        : null,
      outbox: { ...depth, oldestCreatedAt: depth.oldestCreatedAt, headSeq: o.head().seq },
      lastReceipt: o.lastReceipt() ?? null,
      telemetry: {
        buffered: this.telemetry.size,
        dropped: this.telemetry.dropped,
        sent: up?.stats.telemetrySent ?? 0,
      },
      contracts: { watching: this.contractStore.contracts().length, ...this.contractStats },
      devices: this.meters.map((m) => {
        const dc = this.d.config.devices.find((x) => x.name === m.source.name);
        const open = m.intervals.current();
        return {
          name: m.source.name,
          role: dc?.role ?? 'unknown',
          health:
            m.source.health()?.state ?? (m.lastError ? 'unreachable' : m.lastReading ? 'ok' : 'unknown'),
          lastError: m.lastError,
          lastReading: m.lastReading,
          openInterval: open ? { start: open.intervalStart, flags: open.flags } : null,
          proofs: m.proofs,
          skippedIntervals: m.skipped,
        };
      }),
    };
  }

  async start(): Promise<void> {
    const { clock, config, log } = this.d;
    this.running = true;
    this.loopDelay.enable();
    this.synced = (await this.d.clockSync()) === true;
    log.info(
      { gatewayId: this.d.identity.gatewayId, synchronised: this.synced, devices: this.meters.length },
      'agent starting',
    );
    this.lastLoopAt = performance.now();
    // Proofs stored before a crash, but not yet recorded for the watcher, are still in the outbox
    // (nothing unsent is ever deleted).
    this.catchUpProofRecords();
    if (this.d.uplink) {
      this.uplink = this.d.uplink(
        (state, at) => this.statusJws(state, at),
        (text) => this.onContract(text),
      );
      this.uplink.start();
    }
    this.startContractWatcher();
    for (const m of this.meters) this.schedulePoll(m, true);
    this.scheduleBoundary();
    const syncLoop = () => {
      const cancel = clock.after(config.clock.checkSeconds * 1000, async () => {
        const was = this.synced;
        this.synced = (await this.d.clockSync()) === true;
        if (was !== this.synced) log.warn({ synchronised: this.synced }, 'clock synchronisation changed');
        if (this.running) syncLoop();
      });
      this.cancels.push(cancel);
    };
    syncLoop();
    if (config.telemetry.enabled) {
      const telemetryLoop = () => {
        this.cancels.push(
          clock.after(config.telemetry.intervalSeconds * 1000, () => {
            this.flushTelemetry();
            if (this.running) telemetryLoop();
          }),
        );
      };
      telemetryLoop();
    }
    // The status file is for people: every 2 s of real time, whatever the clock's speed.
    this.writeStatus();
    const statusTimer = setInterval(() => {
      // With no devices there is no poll loop; the timer firing is the sign of life.
      if (this.meters.length === 0) this.lastLoopAt = performance.now();
      this.writeStatus();
    }, 2000);
    this.cancels.push(() => clearInterval(statusTimer));
  }

  /** Stops polling, lets a read in progress finish (and its proof be stored), then disconnects. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    for (const c of this.cancels.splice(0)) c();
    this.contractWatcher?.stop();
    for (const m of this.meters) m.cancel?.();
    await Promise.all(this.meters.map((m) => m.busy));
    await this.uplink?.stop();
    this.writeStatus();
    this.loopDelay.disable();
    this.d.log.info({ eventLoopDelayMaxMs: Math.round(this.loopDelay.max / 1e6) }, 'agent stopped');
  }

  private statusJws(state: 'online' | 'offline', at = this.d.clock.now()): string {
    const payload = {
      gw: this.d.identity.gatewayId,
      state,
      version: this.d.version,
      configHash: this.d.configHash,
      clockSynchronised: this.synced,
      at,
    };
    return signJws(GATEWAY_STATUS_TYP, this.d.identity.gatewayId, payload, this.d.identity.secretKey);
  }

  /**
   * Polls on the poll period's wall-clock grid (not "poll period after the last read finished"),
   * so an interval gets one sample per slot and a missing sample means a real gap.
   */
  private schedulePoll(m: MeterRuntime, first = false): void {
    const now = this.d.clock.now();
    const next = first ? now : Math.floor(now / m.pollMs) * m.pollMs + m.pollMs;
    m.cancel = this.d.clock.at(next, () => {
      m.cancel = null;
      void this.poll(m).then(() => {
        this.lastLoopAt = performance.now();
        if (this.running) this.schedulePoll(m);
      });
    });
  }

  /** Reads at every settlement boundary, so each interval closes with a reading at its end. */
  private scheduleBoundary(): void {
    const { clock } = this.d;
    const next = Math.floor(clock.now() / this.periodMs) * this.periodMs + this.periodMs;
    const cancel = clock.at(next, () => {
      for (const m of this.meters) void this.poll(m);
      if (this.running) this.scheduleBoundary();
    });
    this.cancels.push(cancel);
  }

  private poll(m: MeterRuntime): Promise<void> {
    // One read per meter at a time; a boundary read joins a poll already on its way.
    if (m.busy) return m.busy;
    m.busy = this.pollOnce(m).finally(() => {
      m.busy = null;
    });
    return m.busy;
  }

  private async pollOnce(m: MeterRuntime): Promise<void> {
    const { clock, log } = this.d;
    let r: Awaited<ReturnType<MeterSource['read']>>;
    try {
      if (!m.identity) {
        const info = await m.source.describe();
        m.identity = { id: m.source.name, ...info };
        log.info({ device: m.source.name, ...info }, 'device identified');
      }
      r = await m.source.read();
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      if (m.lastError !== msg) log.warn({ device: m.source.name, err: msg }, 'device read failed');
      m.lastError = msg;
      m.intervals.onError();
      return;
    }
    const wall = clock.now();
    const mono = clock.monotonic();
    m.lastError = null;
    m.carrier = r.carrier;
    m.lastReading = { at: wall, ...r.counters, powerW: r.powerW };
    this.pushTelemetry(m.source.name, wall, r.counters.importWh, r.counters.exportWh, r.powerW);
    const ev = m.intervals.onSample({
      wall,
      mono,
      synced: this.synced,
      counters: r.counters,
      scaleChanged: r.scaleChanged,
    });
    try {
      this.handle(m, ev);
      this.storageError = null;
    } catch (err) {
      this.storageFailed(m, err);
    }
  }

  /**
   * The outbox could not store (a full disk, a broken database). Nothing was signed into the
   * chain, so the meter goes back to what is stored, as after a restart: the interval is closed
   * later if the disk recovers within lateReadingSeconds, and is otherwise left unproven with the
   * next proof flagged. Reported as a storage problem: the devices are fine.
   */
  private storageFailed(m: MeterRuntime, err: unknown): void {
    const msg = err instanceof Error ? err.message : String(err);
    const code = (err as { code?: unknown }).code;
    const full = code === 'SQLITE_FULL' || code === 'ENOSPC' || /full|no space/i.test(msg);
    if (this.storageError !== msg) {
      this.d.log.error(
        { stateDir: this.d.config.gateway.stateDir, code, err: msg },
        full ? 'cannot store the proof: the disk is full' : 'cannot store the proof in the outbox',
      );
    }
    this.storageError = msg;
    let restored: ReturnType<Outbox['meterState']>;
    try {
      restored = this.d.outbox.meterState(m.source.name);
    } catch {
      restored = undefined;
    }
    m.intervals = new MeterIntervals(m.timing, restored);
  }

  private handle(m: MeterRuntime, ev: MeterEvent): void {
    const { outbox, log, clock } = this.d;
    if (ev.kind === 'none') return;
    if (ev.kind === 'opened') {
      outbox.saveMeterState(m.source.name, ev.next);
      if (ev.skipped) {
        m.skipped++;
        log.warn(
          { device: m.source.name, interval: ev.skipped },
          'no reading close enough to the interval end; interval left unproven, next one flagged partial',
        );
      }
      return;
    }
    if (ev.closed.flags.includes('clock-jump')) this.lastJumpAt = clock.now();
    const identity = m.identity!;
    let proof: MeterProof | undefined;
    const row = outbox.appendSigned(
      'proof',
      (link) => {
        proof = meterProofPayload(link, identity, ev.closed, clock.now(), m.carrier);
        return { typ: METER_PROOF_TYP, payload: proof };
      },
      clock.now(),
      () => outbox.saveMeterState(m.source.name, ev.next),
    );
    m.proofs++;
    this.recordProof(row.messageHash, proof);
    log.info(
      {
        device: m.source.name,
        seq: row.seq,
        interval: ev.closed.interval,
        importWh: ev.closed.importWh.end - ev.closed.importWh.start,
        exportWh: ev.closed.exportWh.end - ev.closed.exportWh.start,
        flags: ev.closed.flags,
      },
      'meter proof signed',
    );
    this.uplink?.kick();
  }

  /**
   * Remembers a stored proof for the contract watcher. The proof is already safe in the outbox,
   * so a failure here is not a metering failure: it is logged, and the watcher catches up from
   * the outbox before its next check.
   */
  private recordProof(messageHash: string, proof: MeterProof | undefined): void {
    if (proof === undefined) return;
    try {
      // The parsed proof, as the hub reads it: the signed payload may leave out defaults (energy).
      const parsed = parseMeterProof(proof);
      if (!parsed.ok) throw new Error(`the stored proof does not parse: ${formatIssues(parsed.issues)}`);
      this.contractStore.recordProof(messageHash, parsed.value);
    } catch (err) {
      this.proofRecordsBehind = true;
      this.d.log.error(
        { err: err instanceof Error ? err.message : String(err) },
        'cannot record the proof for the contract watcher; will catch up from the outbox',
      );
    }
  }

  private catchUpProofRecords(): void {
    const { outbox, log } = this.d;
    try {
      let added = 0;
      for (let after = -1; ; ) {
        const rows = outbox.pending(after, 500);
        const last = rows.at(-1);
        if (last === undefined) break;
        added += this.contractStore.recordFromOutbox(rows);
        after = last.seq;
      }
      this.proofRecordsBehind = false;
      if (added > 0) log.info({ added }, 'recorded outbox proofs for the contract watcher');
    } catch (err) {
      this.proofRecordsBehind = true;
      log.error(
        { err: err instanceof Error ? err.message : String(err) },
        'cannot read the outbox for proofs',
      );
    }
  }

  /** A contract the hub sent: checked (see contracts/receive.ts for what is and is not) and watched. */
  private onContract(text: string): void {
    const { log, identity } = this.d;
    this.contractStats.received++;
    const hubKey = this.d.hubKey ?? (() => loadHubKey(credentialsPath(this.d.config)).key);
    const r = receiveContract(text, identity.gatewayId, hubKey());
    if (!r.ok) {
      this.contractStats.refused++;
      log.warn({ reason: r.reason, refused: this.contractStats.refused }, 'contract refused');
      return;
    }
    const { watched } = r;
    try {
      const known = this.contractStore.contracts().some((w) => w.id === watched.id);
      this.contractStore.addContract(watched);
      if (!known)
        log.info(
          { contract: watched.id, window: watched.contract.window },
          'watching a contract for its fulfilment events',
        );
    } catch (err) {
      // Not stored: the hub sends active contracts again when it restarts.
      log.error(
        { contract: watched.id, err: err instanceof Error ? err.message : String(err) },
        'cannot store the contract',
      );
      return;
    }
    // A contract whose window has already closed is decided now, not at the next recheck.
    this.contractWatcher?.check();
  }

  private startContractWatcher(): void {
    const { clock, outbox, identity, log } = this.d;
    const store = this.contractStore;
    const watch = this.d.contractWatch ?? {};
    let lastPrune = Number.NEGATIVE_INFINITY;
    this.contractWatcher = new GuardedContractWatcher(
      {
        gatewayId: identity.gatewayId,
        clock,
        contracts: () => {
          if (this.proofRecordsBehind) this.catchUpProofRecords();
          const now = clock.now();
          if (now - lastPrune >= PRUNE_EVERY_MS) {
            lastPrune = now;
            this.pruneContractStore(now, watch.graceMs ?? DEFAULT_GRACE_MS);
          }
          return store.contracts();
        },
        proofsIn: (meters, window) => store.proofsIn(meters, window),
        alreadySigned: (contract, role) => store.hasSigned(contract, role),
        signAndEnqueue: enqueueOnOutbox(outbox, store, () => clock.now()),
        ...(watch.graceMs !== undefined ? { graceMs: watch.graceMs } : {}),
        ...(watch.recheckMs !== undefined ? { recheckMs: watch.recheckMs } : {}),
        onEvent: (e: WatcherEvent) => {
          if (e.kind === 'signed') {
            this.contractStats.eventsSigned++;
            log.info(
              {
                contract: e.contract,
                role: e.role,
                contractedWh: e.body.contractedWh,
                measuredWh: e.body.measuredWh,
                outcome: e.body.outcome,
              },
              'fulfilment event signed',
            );
            this.uplink?.kick();
          } else {
            log.error(
              { contract: e.contract, role: e.role, err: e.error },
              'cannot sign the fulfilment event',
            );
          }
        },
      },
      (err) =>
        log.error(
          { err: err instanceof Error ? err.message : String(err) },
          'contract watcher check failed; retrying at the next recheck',
        ),
    );
    this.contractWatcher.start();
  }

  /**
   * Forgets proofs and contracts no watched contract still needs: older than PROOF_RETENTION_MS,
   * but never a proof inside the window of a contract with a side not yet signed.
   */
  private pruneContractStore(now: number, graceMs: number): void {
    const store = this.contractStore;
    let cutoff = now - Math.max(PROOF_RETENTION_MS, 2 * graceMs);
    for (const w of store.contracts()) {
      const unsigned = (['seller', 'buyer'] as const).some(
        (role) =>
          w.contract.deliveryPoints[role].some((p) => p.gw === this.d.identity.gatewayId) &&
          !store.hasSigned(w.id, role),
      );
      if (unsigned) cutoff = Math.min(cutoff, w.contract.window.start);
    }
    try {
      store.prune(cutoff);
    } catch (err) {
      this.d.log.warn(
        { err: err instanceof Error ? err.message : String(err) },
        'cannot prune the contract store',
      );
    }
  }

  private pushTelemetry(
    device: string,
    t: number,
    importWh: number,
    exportWh: number,
    powerW: number | null,
  ): void {
    if (!this.d.config.telemetry.enabled) return;
    const push = (point: string, value: number) =>
      this.telemetry.push({ t, device, point, value } as TelemetrySample);
    if (powerW !== null) push('W', powerW);
    push('TotWhImp', importWh);
    push('TotWhExp', exportWh);
  }

  private flushTelemetry(): void {
    const up = this.uplink;
    if (!up?.connected) return;
    const samples = this.telemetry.take(MAX_TELEMETRY_SAMPLES - 1);
    // The outbox depth rides along as device "agent", point "outbox": the dashboard's backlog.
    const t = Math.max(this.d.clock.now(), samples.at(-1)?.t ?? 0);
    samples.push({ t, device: 'agent', point: 'outbox', value: this.d.outbox.depth().pending });
    const payload = { gw: this.d.identity.gatewayId, samples, sentAt: this.d.clock.now() };
    const jws = signJws(TELEMETRY_TYP, this.d.identity.gatewayId, payload, this.d.identity.secretKey);
    up.publishTelemetry(jws, this.d.config.telemetry.expirySeconds);
  }

  writeStatus(): void {
    try {
      writeFileAtomic(
        path.join(this.d.config.gateway.stateDir, STATUS_FILE),
        `${JSON.stringify(this.status, null, 2)}\n`,
        0o640,
      );
    } catch (err) {
      this.d.log.warn(
        { err: err instanceof Error ? err.message : String(err) },
        'cannot write the status file',
      );
    }
  }
}
