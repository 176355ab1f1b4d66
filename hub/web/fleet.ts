// Fleet rows for the dashboard: one compact array per gateway (the page holds 10,000 of them), built
// from the enrolled gateways, what the observer heard, and each gateway's head in the ledger.
import type { GatewayObservation } from './observer.js';

export type Health = 'ok' | 'stale' | 'error' | 'unknown';

/** Column order of a fleet row; the client reads the same constant. */
export const FLEET_COLUMNS = [
  'gw',
  'state',
  'lastSeenMs',
  'version',
  'clock',
  'backlog',
  'health',
  'lastProofSeq',
  'lastProofMs',
  'receipted',
  'site',
  'alerts',
] as const;

export type FleetRow = [
  gw: string,
  state: 'online' | 'offline' | 'unknown',
  lastSeenMs: number,
  version: string,
  clock: 'synced' | 'unsynced' | 'unknown',
  backlog: number | null,
  health: Health,
  lastProofSeq: number | null,
  lastProofMs: number | null,
  receipted: boolean | null,
  site: string,
  alerts: number,
];

export interface HeadInfo {
  index: number;
  seq: number;
  receivedMs: number;
  intervalEnd: number | null;
}

export interface FleetInputs {
  gw: string;
  site: string | null;
  observation: GatewayObservation | undefined;
  head: HeadInfo | undefined;
  checkpointSize: number;
  alerts: number;
  now: number;
  deviceStaleMs: number;
  /** The settlement period, to estimate a backlog from how far the last proof lags. */
  periodMs: number;
}

export function deviceHealth(
  o: GatewayObservation | undefined,
  now: number,
  staleMs: number,
): { health: Health; devices: { name: string; health: Health; lastSampleMs: number; flags: string[] }[] } {
  if (!o) return { health: 'unknown', devices: [] };
  const names = new Set<string>([...o.devices.keys(), ...o.proofsByMeter.keys()]);
  const online = o.status?.state === 'online';
  const devices = [...names].sort().map((name) => {
    const d = o.devices.get(name);
    const flags = o.proofsByMeter.get(name)?.flags ?? [];
    let health: Health = 'ok';
    if (flags.includes('device-error')) health = 'error';
    else if (online && d && now - d.lastSampleMs >= staleMs) health = 'stale';
    else if (!d && flags.length === 0) health = 'unknown';
    return { name, health, lastSampleMs: d?.lastSampleMs ?? 0, flags };
  });
  const worst: Health = devices.some((d) => d.health === 'error')
    ? 'error'
    : devices.some((d) => d.health === 'stale')
      ? 'stale'
      : devices.some((d) => d.health === 'ok')
        ? 'ok'
        : 'unknown';
  return { health: worst, devices };
}

/**
 * The backlog: what the agent reported in telemetry when it does; otherwise, for a gateway that
 * is online, how many settlement periods its newest proof lags behind (each is a proof waiting in
 * its outbox, or one it failed to make).
 */
export function backlogOf(
  o: GatewayObservation | undefined,
  head: HeadInfo | undefined,
  now: number,
  periodMs: number,
): number | null {
  if (o?.reportedBacklog) return o.reportedBacklog.value;
  if (o?.status?.state !== 'online') return null;
  const end = o.lastProof?.intervalEnd ?? head?.intervalEnd ?? null;
  if (end === null) return null;
  return Math.max(0, Math.floor((now - end) / periodMs) - 1);
}

export function fleetRow(i: FleetInputs): FleetRow {
  const o = i.observation;
  const s = o?.status;
  const proofSeq = o?.lastProof?.seq ?? null;
  const headSeq = i.head?.seq ?? null;
  const lastProofSeq =
    proofSeq === null ? headSeq : headSeq === null ? proofSeq : Math.max(proofSeq, headSeq);
  const lastProofMs = o?.lastProof?.receivedMs ?? i.head?.receivedMs ?? null;
  return [
    i.gw,
    s?.state ?? 'unknown',
    o?.lastSeenMs || i.head?.receivedMs || 0,
    s?.version ?? '',
    s ? (s.clockSynchronised ? 'synced' : 'unsynced') : 'unknown',
    backlogOf(o, i.head, i.now, i.periodMs),
    deviceHealth(o, i.now, i.deviceStaleMs).health,
    lastProofSeq,
    lastProofMs,
    i.head ? i.head.index < i.checkpointSize : null,
    i.site ?? '',
    i.alerts,
  ];
}

export interface FleetCounts {
  total: number;
  online: number;
  offline: number;
  unknown: number;
  unsynced: number;
  unhealthy: number;
  alerting: number;
}

export function fleetCounts(rows: readonly FleetRow[]): FleetCounts {
  const c: FleetCounts = {
    total: 0,
    online: 0,
    offline: 0,
    unknown: 0,
    unsynced: 0,
    unhealthy: 0,
    alerting: 0,
  };
  for (const r of rows) {
    c.total++;
    c[r[1]]++;
    if (r[4] === 'unsynced') c.unsynced++;
    if (r[6] === 'error' || r[6] === 'stale') c.unhealthy++;
    if (r[11] > 0) c.alerting++;
  }
  return c;
}
