// Alert rules over fleet facts: pure functions from what is known now to the alerts that hold now.
// The engine (./engine.ts) turns successive answers into raised and cleared alerts.

export const ALERT_KINDS = [
  'offline',
  'clock',
  'proof-gap',
  'equivocation',
  'device-error',
  'backlog-growing',
] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];
export type Severity = 'critical' | 'warning';

export interface AlertThresholds {
  /** Offline (by last will) or silent (online but unheard) longer than this raises `offline`. */
  offlineAfterMs: number;
  /** A device whose telemetry is older than this while its gateway is online is in error. */
  deviceStaleMs: number;
  /** Backlog that rose this many evaluations in a row raises `backlog-growing`… */
  backlogRises: number;
  /** …once it is at least this many messages. */
  backlogMin: number;
  /** Gap notes and equivocations younger than this are shown (older ones are history). */
  evidenceWindowMs: number;
}

export const DEFAULT_THRESHOLDS: AlertThresholds = {
  offlineAfterMs: 5 * 60_000,
  deviceStaleMs: 5 * 60_000,
  backlogRises: 3,
  backlogMin: 4,
  evidenceWindowMs: 24 * 3600_000,
};

export interface GatewayFacts {
  gw: string;
  state?: 'online' | 'offline';
  /** When the current state began (received time). */
  stateSinceMs?: number;
  lastSeenMs: number;
  clockSynchronised?: boolean;
  /** Flags of the latest proof of each meter. */
  proofFlags: { meter: string; flags: readonly string[] }[];
  /** Devices and the time of their last telemetry sample. */
  devices: { name: string; lastSampleMs: number }[];
  /** Backlog values over the last evaluations, oldest first. */
  backlogHistory: readonly number[];
}

export interface EvidenceFacts {
  gapNotes: { gw: string; from: number; to: number; index: number; at: number }[];
  equivocations: { id: number; gw: string; seq: number; receivedMs: number }[];
}

export interface AlertCandidate {
  id: string;
  kind: AlertKind;
  severity: Severity;
  gw: string;
  detail: string;
}

const minutes = (ms: number) => `${Math.round(ms / 60_000)} min`;

export function gatewayAlerts(f: GatewayFacts, now: number, t: AlertThresholds): AlertCandidate[] {
  const out: AlertCandidate[] = [];
  const add = (kind: AlertKind, severity: Severity, detail: string, suffix = '') =>
    out.push({ id: `${kind}:${f.gw}${suffix}`, kind, severity, gw: f.gw, detail });

  if (f.state === 'offline' && f.stateSinceMs !== undefined && now - f.stateSinceMs >= t.offlineAfterMs)
    add('offline', 'warning', `offline (last will) for ${minutes(now - f.stateSinceMs)}`);
  else if (f.state === 'online' && f.lastSeenMs > 0 && now - f.lastSeenMs >= t.offlineAfterMs)
    add('offline', 'warning', `online by its status but silent for ${minutes(now - f.lastSeenMs)}`);

  const clockFlagged = f.proofFlags.filter(
    (p) => p.flags.includes('clock-unsynchronised') || p.flags.includes('clock-jump'),
  );
  if (f.clockSynchronised === false) add('clock', 'warning', 'its status says the clock is not synchronised');
  else if (clockFlagged.length > 0)
    add('clock', 'warning', `latest proof of ${clockFlagged.map((p) => p.meter).join(', ')} flags the clock`);

  const errored = f.proofFlags.filter((p) => p.flags.includes('device-error')).map((p) => p.meter);
  const online = f.state === 'online';
  const stale = online
    ? f.devices.filter((d) => now - d.lastSampleMs >= t.deviceStaleMs).map((d) => d.name)
    : [];
  if (errored.length > 0 || stale.length > 0) {
    const parts = [];
    if (errored.length > 0) parts.push(`device-error in the latest proof of ${errored.join(', ')}`);
    if (stale.length > 0) parts.push(`no telemetry from ${stale.join(', ')}`);
    add('device-error', 'warning', parts.join('; '));
  }

  const h = f.backlogHistory;
  if (h.length > t.backlogRises) {
    const tail = h.slice(-(t.backlogRises + 1));
    let rising = true;
    for (let i = 1; i < tail.length; i++) if ((tail[i] as number) <= (tail[i - 1] as number)) rising = false;
    const last = tail[tail.length - 1] as number;
    if (rising && last >= t.backlogMin)
      add('backlog-growing', 'warning', `backlog rose ${t.backlogRises} times in a row, now ${last}`);
  }
  return out;
}

export function evidenceAlerts(e: EvidenceFacts, now: number, t: AlertThresholds): AlertCandidate[] {
  const out: AlertCandidate[] = [];
  for (const g of e.gapNotes) {
    if (now - g.at > t.evidenceWindowMs) continue;
    out.push({
      id: `proof-gap:${g.gw}:${g.from}`,
      kind: 'proof-gap',
      severity: 'warning',
      gw: g.gw,
      detail: `seq ${g.from}–${g.to} never arrived; gap note at ledger index ${g.index}`,
    });
  }
  for (const q of e.equivocations) {
    if (now - q.receivedMs > t.evidenceWindowMs) continue;
    out.push({
      id: `equivocation:${q.gw}:${q.seq}`,
      kind: 'equivocation',
      severity: 'critical',
      gw: q.gw,
      detail: `two different signed messages under seq ${q.seq}; evidence #${q.id} kept`,
    });
  }
  return out;
}
