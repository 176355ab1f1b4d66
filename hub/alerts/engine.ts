// Keeps the set of active alerts: each evaluation's candidates are compared with what was active,
// new ones are raised, missing ones cleared (kept in a bounded history), and listeners hear both.
// Operators may acknowledge an alert; acknowledging does not clear it, only the facts do.
import {
  type AlertCandidate,
  type AlertThresholds,
  DEFAULT_THRESHOLDS,
  type EvidenceFacts,
  evidenceAlerts,
  type GatewayFacts,
  gatewayAlerts,
} from './rules.js';

export interface Alert extends AlertCandidate {
  raisedMs: number;
  clearedMs: number | null;
  acknowledged: { by: string; atMs: number } | null;
}

export interface AlertSources {
  gateways(): Iterable<Omit<GatewayFacts, 'backlogHistory'> & { backlog: number | null }>;
  evidence(): EvidenceFacts;
}

export type AlertChange = { kind: 'raised' | 'cleared' | 'acknowledged'; alert: Alert };

export class AlertEngine {
  private readonly active = new Map<string, Alert>();
  private readonly history: Alert[] = [];
  private readonly backlog = new Map<string, number[]>();
  private readonly listeners = new Set<(c: AlertChange) => void>();
  private timer: NodeJS.Timeout | undefined;
  readonly thresholds: AlertThresholds;

  constructor(
    private readonly sources: AlertSources,
    thresholds: Partial<AlertThresholds> = {},
    private readonly now: () => number = Date.now,
    private readonly historyLimit = 1000,
  ) {
    this.thresholds = { ...DEFAULT_THRESHOLDS, ...thresholds };
  }

  on(listener: (c: AlertChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  start(everyMs: number): void {
    this.stop();
    this.timer = setInterval(() => this.evaluate(), everyMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Re-evaluates every rule now; returns the changes. */
  evaluate(): AlertChange[] {
    const now = this.now();
    const t = this.thresholds;
    const candidates: AlertCandidate[] = [];
    for (const g of this.sources.gateways()) {
      let h = this.backlog.get(g.gw);
      if (g.backlog !== null) {
        if (!h) {
          h = [];
          this.backlog.set(g.gw, h);
        }
        if (h[h.length - 1] !== g.backlog || h.length === 0) h.push(g.backlog);
        if (h.length > t.backlogRises + 1) h.splice(0, h.length - t.backlogRises - 1);
      }
      candidates.push(...gatewayAlerts({ ...g, backlogHistory: h ?? [] }, now, t));
    }
    candidates.push(...evidenceAlerts(this.sources.evidence(), now, t));
    const changes: AlertChange[] = [];
    const seen = new Set<string>();
    for (const c of candidates) {
      seen.add(c.id);
      const a = this.active.get(c.id);
      if (a) {
        a.detail = c.detail;
        continue;
      }
      const alert: Alert = { ...c, raisedMs: now, clearedMs: null, acknowledged: null };
      this.active.set(c.id, alert);
      changes.push({ kind: 'raised', alert });
    }
    for (const [id, a] of this.active) {
      if (seen.has(id)) continue;
      this.active.delete(id);
      a.clearedMs = now;
      this.history.push(a);
      if (this.history.length > this.historyLimit) this.history.shift();
      changes.push({ kind: 'cleared', alert: a });
    }
    for (const c of changes) this.emit(c);
    return changes;
  }

  acknowledge(id: string, by: string): Alert | undefined {
    const a = this.active.get(id);
    if (!a) return undefined;
    a.acknowledged = { by, atMs: this.now() };
    this.emit({ kind: 'acknowledged', alert: a });
    return a;
  }

  list(): { active: Alert[]; recent: Alert[] } {
    const active = [...this.active.values()].sort((x, y) =>
      x.severity === y.severity ? y.raisedMs - x.raisedMs : x.severity === 'critical' ? -1 : 1,
    );
    return { active, recent: this.history.slice(-100).reverse() };
  }

  countsByKind(): Map<string, number> {
    const m = new Map<string, number>();
    for (const a of this.active.values()) m.set(a.kind, (m.get(a.kind) ?? 0) + 1);
    return m;
  }

  private emit(c: AlertChange): void {
    for (const l of this.listeners) {
      try {
        l(c);
      } catch {
        // one listener's failure must not stop the others
      }
    }
  }
}
