// Prometheus metrics for the hub (prom-client: the text format, label escaping and histogram
// buckets done by a library every Prometheus user knows). Counters that ingest already keeps
// (IngestStats) are read at scrape time and turned into monotonic counters by their increase;
// ingest can also call the MetricsSink directly for what it alone sees (latency, outcome by type).
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** What ingest (or anything else) may report as it happens. */
export interface MetricsSink {
  message(type: string, outcome: string): void;
  reject(reason: string): void;
  /** Seconds from receiving a message to its append (or refusal). */
  ingestLatency(seconds: number): void;
}

/** Figures read at every scrape. */
export interface MetricsSources {
  ledgerSize(): number;
  /** createdMs of the latest checkpoint, or undefined while there is none. */
  latestCheckpointMs(): number | undefined;
  connectedGateways(): number;
  knownGateways(): number;
  /** IngestStats.toJSON() (accepted, duplicates, …, rejected: {reason: n}). */
  ingestStats?(): Record<string, unknown>;
  /** Messages the dashboard's observer saw, by topic kind and outcome. */
  observed?(): Iterable<[kind: string, outcome: string, count: number]>;
  activeAlerts?(): Map<string, number>;
  sessions?(): number;
  now?(): number;
}

const STAT_OUTCOMES: Record<string, string> = {
  accepted: 'accepted',
  duplicates: 'duplicate',
  lateFills: 'late-fill',
  gapNotes: 'gap-note',
  equivocations: 'equivocation',
};

export class HubMetrics implements MetricsSink {
  readonly registry: Registry;
  private readonly messages: Counter<'type' | 'outcome'>;
  private readonly rejects: Counter<'reason'>;
  private readonly latency: Histogram;
  /** Last totals read from IngestStats / the observer, to add only their increase. */
  private readonly seen = new Map<string, number>();

  constructor(sources: MetricsSources, registry = new Registry()) {
    this.registry = registry;
    const self = this;
    const now = () => sources.now?.() ?? Date.now();
    this.messages = new Counter({
      name: 'wattproof_messages_total',
      help: 'Gateway messages handled, by message type (topic kind) and outcome',
      labelNames: ['type', 'outcome'],
      registers: [registry],
      collect() {
        self.pullStats(sources);
      },
    });
    this.rejects = new Counter({
      name: 'wattproof_ingest_rejects_total',
      help: 'Messages ingest refused, by reason',
      labelNames: ['reason'],
      registers: [registry],
    });
    this.latency = new Histogram({
      name: 'wattproof_ingest_latency_seconds',
      help: 'Time from receiving a chained message to its append or refusal',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    });
    new Gauge({
      name: 'wattproof_ledger_entries',
      help: 'Entries in the ledger (its size)',
      registers: [registry],
      collect() {
        this.set(sources.ledgerSize());
      },
    });
    new Gauge({
      name: 'wattproof_checkpoint_age_seconds',
      help: 'Seconds since the latest signed checkpoint (absent while there is none)',
      registers: [registry],
      collect() {
        const t = sources.latestCheckpointMs();
        if (t === undefined) this.reset();
        else this.set(Math.max(0, (now() - t) / 1000));
      },
    });
    new Gauge({
      name: 'wattproof_gateways_connected',
      help: 'Gateways whose latest status is online',
      registers: [registry],
      collect() {
        this.set(sources.connectedGateways());
      },
    });
    new Gauge({
      name: 'wattproof_gateways_known',
      help: 'Enrolled gateways',
      registers: [registry],
      collect() {
        this.set(sources.knownGateways());
      },
    });
    new Gauge({
      name: 'wattproof_alerts_active',
      help: 'Active alerts by kind',
      labelNames: ['kind'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [kind, n] of sources.activeAlerts?.() ?? []) this.set({ kind }, n);
      },
    });
    new Gauge({
      name: 'wattproof_dashboard_sessions',
      help: 'Open dashboard sessions',
      registers: [registry],
      collect() {
        this.set(sources.sessions?.() ?? 0);
      },
    });
  }

  message(type: string, outcome: string): void {
    this.messages.inc({ type, outcome });
  }

  reject(reason: string): void {
    this.rejects.inc({ reason });
  }

  ingestLatency(seconds: number): void {
    this.latency.observe(seconds);
  }

  /** The increase since the last scrape of a monotonic total kept elsewhere. */
  private delta(key: string, total: number): number {
    const before = this.seen.get(key) ?? 0;
    this.seen.set(key, total);
    return total > before ? total - before : 0;
  }

  private pullStats(sources: MetricsSources): void {
    const s = sources.ingestStats?.();
    if (s) {
      for (const [field, outcome] of Object.entries(STAT_OUTCOMES)) {
        const v = s[field];
        if (typeof v === 'number') {
          const d = this.delta(`stat:${field}`, v);
          if (d > 0) this.messages.inc({ type: 'chained', outcome }, d);
        }
      }
      const rejected = s.rejected;
      if (rejected && typeof rejected === 'object') {
        let total = 0;
        for (const [reason, n] of Object.entries(rejected as Record<string, unknown>)) {
          if (typeof n !== 'number') continue;
          total += n;
          const d = this.delta(`reject:${reason}`, n);
          if (d > 0) this.rejects.inc({ reason }, d);
        }
        const d = this.delta('stat:rejected', total);
        if (d > 0) this.messages.inc({ type: 'chained', outcome: 'rejected' }, d);
      }
    }
    for (const [kind, outcome, count] of sources.observed?.() ?? []) {
      const d = this.delta(`obs:${kind}:${outcome}`, count);
      if (d > 0) this.messages.inc({ type: kind, outcome }, d);
    }
  }

  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
