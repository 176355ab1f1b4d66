// The dashboard's parts, built from the hub's: the gateway observer (status and telemetry from
// MQTT), the ledger follower (contracts fold, gap notes, decisions), the alert engine, metrics and
// sessions. The composition root makes one with createDashboard(), feeds MQTT messages to
// `observer.observe`, registers the routes with registerDashboard(app, dashboard) before
// listening, and calls start()/stop().
import type { Logger } from 'pino';
import { b64url, deriveId } from '../../protocol/index.js';
import { AlertEngine, type AlertThresholds } from '../alerts/index.js';
import { HubMetrics, type MetricsSink } from '../metrics/index.js';
import type { DashboardConfig } from './config.js';
import { type FleetRow, fleetCounts, fleetRow, type HeadInfo } from './fleet.js';
import { LedgerFollower } from './ledger-state.js';
import { GatewayObserver } from './observer.js';
import { SessionStore } from './sessions.js';
import { UserStore } from './users.js';

export interface DashboardEntry {
  index: number;
  jws: string;
  leafHash: Uint8Array;
  messageHash: Uint8Array;
  typ: string;
  kid: string;
  gw: string | null;
  seq: number | null;
  receivedMs: number;
}

export interface DashboardCheckpoint {
  size: number;
  root: Uint8Array;
  note: string;
  createdMs: number;
}

/** The ledger reads the dashboard needs (hub/ledger's Ledger has them all). */
export interface DashboardLedger {
  readonly size: number;
  entry(index: number): DashboardEntry | undefined;
  range(start: number, end: number): DashboardEntry[];
  gatewayChain(gw: string, fromSeq?: number, limit?: number): DashboardEntry[];
  gatewayHead(gw: string): DashboardEntry | undefined;
  inclusionProof(index: number, size: number): Uint8Array[];
  latestCheckpoint(): DashboardCheckpoint | undefined;
  checkpoints(fromSize?: number, limit?: number): DashboardCheckpoint[];
}

export interface DashboardBindings {
  get(
    gw: string,
  ): { publicKey: Uint8Array; index: number; site: string | null; participant: string | null } | undefined;
  all(): { gw: string; site: string | null; participant: string | null; index: number }[];
}

export interface EquivocationLike {
  id: number;
  gw: string;
  seq: number;
  messageHash: Uint8Array;
  conflictingHash: Uint8Array;
  conflictingIndex: number | null;
  receivedMs: number;
}

/** Prices per region and energy type; empty until the markets issue lands. */
export interface PricesProvider {
  series(): {
    region: string;
    energy: string;
    currency: string;
    points: { start: number; end: number; clearingMinorPerKWh: number; volumeWh: number }[];
  }[];
}

export interface CreateDashboardOptions {
  config: DashboardConfig;
  hub: { id: string; publicKey: Uint8Array; logOrigin: string; logVerifierKey: string };
  ledger: DashboardLedger;
  bindings: DashboardBindings;
  equivocations: { after(id?: number, limit?: number): EquivocationLike[] };
  /** IngestStats.toJSON() plus whatever GET /v1/stats shows. */
  stats: () => Record<string, unknown>;
  /** Append a signed entry (validator decisions from the page); returns its index. */
  appendEntry?: (jws: string, typ: string, kid: string) => { index: number };
  /** node:crypto Ed25519 check (Ed25519Verifier.verifyBytes); default @noble. */
  verifySignature?: (sig: Uint8Array, msg: Uint8Array, pub: Uint8Array) => boolean;
  prices?: PricesProvider;
  /** Served over TLS (sets the Secure cookie flag unless the config says otherwise). */
  tls?: boolean;
  settlementPeriodMs?: number;
  log: Logger;
  now?: () => number;
}

export class Dashboard {
  readonly observer: GatewayObserver;
  readonly follower: LedgerFollower;
  readonly alerts: AlertEngine;
  readonly metrics: HubMetrics;
  readonly users: UserStore;
  readonly sessions: SessionStore;
  readonly validators: { id: string; publicKey: Uint8Array }[];
  readonly secureCookies: boolean;
  readonly now: () => number;
  readonly periodMs: number;
  private readonly heads = new Map<string, HeadInfo | null>();
  private followTimer: NodeJS.Timeout | undefined;
  private readonly ledgerListeners = new Set<(size: number, gateways: string[]) => void>();

  constructor(readonly o: CreateDashboardOptions) {
    this.now = o.now ?? Date.now;
    this.periodMs = o.settlementPeriodMs ?? 900_000;
    this.users = new UserStore(o.config.users);
    this.sessions = new SessionStore(o.config.sessionTtlSeconds * 1000, this.now);
    this.secureCookies = o.config.secureCookies ?? o.tls === true;
    this.validators = o.config.validators.map((v) => {
      const publicKey = b64url.decode(v.publicKey);
      return { id: deriveId('val', publicKey), publicKey };
    });
    this.observer = new GatewayObserver({
      keyOf: (gw) => o.bindings.get(gw)?.publicKey,
      ...(o.verifySignature ? { verifySignature: o.verifySignature } : {}),
      seriesCapacity: o.config.telemetrySamples,
      now: this.now,
    });
    this.observer.on((e) => {
      if (e.kind === 'gateway') this.heads.delete(e.gw);
    });
    this.follower = new LedgerFollower(o.ledger, {
      hubKids: [o.hub.id],
      validatorKids: this.validators.map((v) => v.id),
      currency: o.config.currency,
    });
    const a = o.config.alerts;
    const thresholds: Partial<AlertThresholds> = {
      offlineAfterMs: a.offlineAfterSeconds * 1000,
      deviceStaleMs: a.deviceStaleSeconds * 1000,
      backlogRises: a.backlogRises,
      backlogMin: a.backlogMin,
    };
    this.alerts = new AlertEngine(
      {
        gateways: () => this.alertFacts(),
        evidence: () => ({
          gapNotes: this.follower.gaps,
          equivocations: o.equivocations.after(0, 10_000),
        }),
      },
      thresholds,
      this.now,
    );
    this.metrics = new HubMetrics({
      ledgerSize: () => o.ledger.size,
      latestCheckpointMs: () => o.ledger.latestCheckpoint()?.createdMs,
      connectedGateways: () => {
        let n = 0;
        for (const g of this.observer.gateways.values()) if (g.status?.state === 'online') n++;
        return n;
      },
      knownGateways: () => o.bindings.all().length,
      ingestStats: () => {
        const s = o.stats();
        return (s.ingest as Record<string, unknown> | undefined) ?? s;
      },
      observed: () =>
        [...this.observer.counts].map(([k, n]) => {
          const [kind, outcome] = k.split('\u0000') as [string, string];
          return [kind, outcome, n] as [string, string, number];
        }),
      activeAlerts: () => this.alerts.countsByKind(),
      sessions: () => this.sessions.size,
      now: this.now,
    });
  }

  /** What ingest may call as things happen (see hub/metrics). */
  get metricsSink(): MetricsSink {
    return this.metrics;
  }

  start(): void {
    this.follow();
    this.alerts.evaluate();
    this.alerts.start(this.o.config.alerts.evaluateEverySeconds * 1000);
    this.followTimer = setInterval(() => this.follow(), 500);
    this.followTimer.unref();
  }

  stop(): void {
    this.alerts.stop();
    if (this.followTimer) clearInterval(this.followTimer);
    this.followTimer = undefined;
  }

  /** Called after new entries were folded, with the gateways they concern. */
  onLedger(listener: (size: number, gateways: string[]) => void): () => void {
    this.ledgerListeners.add(listener);
    return () => this.ledgerListeners.delete(listener);
  }

  /** Folds new ledger entries and tells listeners the new size. */
  follow(): void {
    const n = this.follower.catchUp();
    if (n > 0) {
      // Gateways with new chained entries have a new head.
      const gws = [...this.follower.touched];
      this.follower.touched.clear();
      this.invalidateHeads(gws);
      for (const l of this.ledgerListeners) l(this.follower.size, gws);
    }
  }

  headOf(gw: string): HeadInfo | undefined {
    const cached = this.heads.get(gw);
    if (cached !== undefined) return cached ?? undefined;
    const e = this.o.ledger.gatewayHead(gw);
    let info: HeadInfo | null = null;
    if (e && e.seq !== null) {
      let intervalEnd: number | null = null;
      try {
        const payload = JSON.parse(Buffer.from(e.jws.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
          interval?: { end?: unknown };
        };
        if (typeof payload.interval?.end === 'number') intervalEnd = payload.interval.end;
      } catch {
        intervalEnd = null;
      }
      info = { index: e.index, seq: e.seq, receivedMs: e.receivedMs, intervalEnd };
    }
    this.heads.set(gw, info);
    return info ?? undefined;
  }

  /** Forget cached heads (after the ledger grew). */
  invalidateHeads(gws?: Iterable<string>): void {
    if (!gws) this.heads.clear();
    else for (const g of gws) this.heads.delete(g);
  }

  private alertsByGateway(): Map<string, number> {
    const m = new Map<string, number>();
    for (const a of this.alerts.list().active) m.set(a.gw, (m.get(a.gw) ?? 0) + 1);
    return m;
  }

  /** Every enrolled (or heard-from) gateway's row. */
  fleetRows(only?: ReadonlySet<string>): FleetRow[] {
    const now = this.now();
    const cp = this.o.ledger.latestCheckpoint()?.size ?? 0;
    const alerts = this.alertsByGateway();
    const staleMs = this.o.config.alerts.deviceStaleSeconds * 1000;
    const rows: FleetRow[] = [];
    const seen = new Set<string>();
    const add = (gw: string, site: string | null) => {
      if (seen.has(gw) || (only && !only.has(gw))) return;
      seen.add(gw);
      rows.push(
        fleetRow({
          gw,
          site,
          observation: this.observer.gateways.get(gw),
          head: this.headOf(gw),
          checkpointSize: cp,
          alerts: alerts.get(gw) ?? 0,
          now,
          deviceStaleMs: staleMs,
          periodMs: this.periodMs,
        }),
      );
    };
    if (only) {
      // A live update names a few gateways: look those up rather than walk the whole fleet.
      for (const gw of only) {
        const b = this.o.bindings.get(gw);
        if (b || this.observer.gateways.has(gw)) add(gw, b?.site ?? null);
      }
      return rows;
    }
    for (const b of this.o.bindings.all()) add(b.gw, b.site);
    for (const gw of this.observer.gateways.keys()) add(gw, null);
    return rows;
  }

  fleet(): { now: number; counts: ReturnType<typeof fleetCounts>; rows: FleetRow[] } {
    const rows = this.fleetRows();
    return { now: this.now(), counts: fleetCounts(rows), rows };
  }

  private *alertFacts() {
    const now = this.now();
    for (const o of this.observer.gateways.values()) {
      const head = this.headOf(o.gw);
      const s = o.status;
      const rowBacklog = fleetRow({
        gw: o.gw,
        site: null,
        observation: o,
        head,
        checkpointSize: 0,
        alerts: 0,
        now,
        deviceStaleMs: this.o.config.alerts.deviceStaleSeconds * 1000,
        periodMs: this.periodMs,
      })[5];
      yield {
        gw: o.gw,
        ...(s ? { state: s.state, stateSinceMs: s.sinceMs, clockSynchronised: s.clockSynchronised } : {}),
        lastSeenMs: o.lastSeenMs,
        proofFlags: [...o.proofsByMeter.values()].map((p) => ({ meter: p.meter, flags: p.flags })),
        devices: [...o.devices.values()].map((d) => ({ name: d.name, lastSampleMs: d.lastSampleMs })),
        backlog: rowBacklog,
      };
    }
  }
}

export function createDashboard(o: CreateDashboardOptions): Dashboard {
  return new Dashboard(o);
}
