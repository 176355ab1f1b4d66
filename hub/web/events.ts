// Server-sent events for the dashboard: one stream per open page. Fleet and alert changes are
// coalesced (sent 100 ms after the first change since the last send, never one message per MQTT
// packet or per alert: a thousand gateways dropping at once is one message), telemetry goes only
// to pages watching that gateway, and a stream ends when its session does.
import type { ServerResponse } from 'node:http';
import type { AlertChange } from '../alerts/index.js';
import type { Dashboard } from './dashboard.js';
import { type FleetRow, fleetCounts } from './fleet.js';

interface Client {
  res: ServerResponse;
  sessionId: string | undefined;
  gw: string | undefined;
}

export class EventStreams {
  private readonly clients = new Set<Client>();
  private readonly pending = new Set<string>();
  private pendingAlerts: AlertChange[] = [];
  private readonly rows = new Map<string, FleetRow>();
  private timer: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private readonly unsubscribe: (() => void)[] = [];
  /** What the last fleet flush cost (the bench reads it). */
  readonly stats = { flushes: 0, lastFlush: { rows: 0, bytes: 0, ms: 0, at: 0 } };

  constructor(
    private readonly d: Dashboard,
    private readonly coalesceMs = 100,
  ) {}

  start(): void {
    for (const r of this.d.fleetRows()) this.rows.set(r[0], r);
    this.unsubscribe.push(
      this.d.observer.on((e) => {
        if (e.kind === 'gateway') this.mark(e.gw);
        else if (e.kind === 'telemetry') this.send('telemetry', { gw: e.gw, samples: e.samples }, e.gw);
      }),
      this.d.onLedger((size, gws) => {
        for (const gw of gws) this.mark(gw);
        const cp = this.d.o.ledger.latestCheckpoint();
        this.send('ledger', { size, checkpoint: cp ? { size: cp.size, createdMs: cp.createdMs } : null });
        this.send('contracts', { size });
      }),
      this.d.alerts.on((c) => {
        this.mark(c.alert.gw);
        this.pendingAlerts.push(c);
        this.soon();
      }),
    );
    this.heartbeat = setInterval(() => this.beat(), 15_000);
    this.heartbeat.unref();
  }

  stop(): void {
    for (const u of this.unsubscribe.splice(0)) u();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.heartbeat) clearInterval(this.heartbeat);
    for (const c of this.clients) c.res.end();
    this.clients.clear();
  }

  get size(): number {
    return this.clients.size;
  }

  add(res: ServerResponse, sessionId: string | undefined, gw: string | undefined): void {
    const c: Client = { res, sessionId, gw };
    this.clients.add(c);
    res.on('close', () => this.clients.delete(c));
    res.write(`retry: 2000\n\n`);
  }

  private mark(gw: string): void {
    this.pending.add(gw);
    this.soon();
  }

  /** A flush `coalesceMs` after the first change since the last one: nothing runs while idle. */
  private soon(): void {
    if (this.timer !== undefined || this.unsubscribe.length === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, this.coalesceMs);
    this.timer.unref();
  }

  /**
   * Sends the alert changes since the last flush (one `alerts` event with the active count) and the
   * rows of gateways that changed, with the new counts (one `fleet` event).
   */
  flush(): void {
    if (this.pendingAlerts.length > 0) {
      const changes = this.pendingAlerts;
      this.pendingAlerts = [];
      let active = 0;
      for (const n of this.d.alerts.countsByKind().values()) active += n;
      this.send('alerts', { changes, active });
    }
    if (this.pending.size === 0) return;
    const t0 = performance.now();
    const changed = this.d.fleetRows(new Set(this.pending));
    this.pending.clear();
    for (const r of changed) this.rows.set(r[0], r);
    const bytes = this.send('fleet', { rows: changed, counts: fleetCounts([...this.rows.values()]) });
    this.stats.flushes++;
    this.stats.lastFlush = { rows: changed.length, bytes, ms: performance.now() - t0, at: Date.now() };
  }

  /** Writes one event to every client that wants it; returns its size in bytes (0: no client). */
  private send(event: string, data: unknown, gw?: string): number {
    if (this.clients.size === 0) return 0;
    const text = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const c of this.clients) {
      if (gw !== undefined && event === 'telemetry' && c.gw !== gw) continue;
      c.res.write(text);
    }
    return text.length;
  }

  private beat(): void {
    for (const c of this.clients) {
      if (c.sessionId !== undefined && !this.d.sessions.get(c.sessionId)) {
        c.res.write('event: session-ended\ndata: {}\n\n');
        c.res.end();
        this.clients.delete(c);
        continue;
      }
      c.res.write(': keep-alive\n\n');
    }
  }
}
