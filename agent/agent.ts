// The agent's composition root: polls each meter at its own interval, feeds the metering core,
// signs and stores a proof per meter and interval (outbox first, then the uplink), batches
// telemetry, watches the clock, and writes a status file for `wattproof-agent status`. Every
// dependency is passed in, so tests run it on a temp dir with a real broker and real devices.
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { signJws } from '../protocol/index.js';
import {
  GATEWAY_STATUS_TYP,
  type MeterIdentity,
  TELEMETRY_TYP,
  type TelemetrySample,
} from '../protocol/messages/index.js';
import type { Clock } from './clock.js';
import type { ClockSyncCheck } from './clock-sync.js';
import { type AgentConfig, settlementPeriodMs } from './config.js';
import { writeFileAtomic } from './files.js';
import type { GatewayIdentity } from './identity.js';
import type { MeterSource } from './meter-source.js';
import { type MeterEvent, MeterIntervals, type MeterTiming } from './metering.js';
import type { Outbox } from './outbox.js';
import { METER_PROOF_TYP, meterProofPayload } from './proof.js';
import { TelemetryBuffer } from './telemetry.js';
import type { MqttCredentials, Uplink } from './uplink.js';

export const STATUS_FILE = 'status.json';

export interface AgentDeps {
  config: AgentConfig;
  identity: GatewayIdentity;
  clock: Clock;
  clockSync: ClockSyncCheck;
  sources: MeterSource[];
  outbox: Outbox;
  log: Logger;
  /** Builds the uplink (tests may leave it out to run offline). */
  uplink?: (statusJws: (state: 'online' | 'offline', at?: number) => string) => Uplink;
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

  constructor(private readonly d: AgentDeps) {
    const c = d.config;
    this.periodMs = settlementPeriodMs(c);
    this.telemetry = new TelemetryBuffer(c.telemetry.bufferSize);
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
    if (this.d.uplink) {
      this.uplink = this.d.uplink((state, at) => this.statusJws(state, at));
      this.uplink.start();
    }
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
    const statusTimer = setInterval(() => this.writeStatus(), 2000);
    this.cancels.push(() => clearInterval(statusTimer));
  }

  /** Stops polling, lets a read in progress finish (and its proof be stored), then disconnects. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    for (const c of this.cancels.splice(0)) c();
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
    const row = outbox.appendSigned(
      'proof',
      (link) => ({
        typ: METER_PROOF_TYP,
        payload: meterProofPayload(link, identity, ev.closed, clock.now()),
      }),
      clock.now(),
      () => outbox.saveMeterState(m.source.name, ev.next),
    );
    m.proofs++;
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
    if (!up?.connected || this.telemetry.size === 0) return;
    const samples = this.telemetry.take(1000);
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
