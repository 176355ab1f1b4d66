// What the dashboard knows of each gateway beyond the ledger: its signed birth/last-will status
// (online, version, clock), when it was last heard, its live telemetry (bounded ring buffers per
// device and point) and the last proof it sent. Fed with the hub's MQTT messages by the
// composition root (observe(topic, payload)); every message is signature-checked against the
// gateway's bound key before it counts, so a forged status cannot mark a gateway online.
import { decodeJwsUnverified } from '../../protocol/index.js';
import {
  GATEWAY_STATUS_TYP,
  type GatewayStatus,
  METER_PROOF_TYP,
  type MeterProof,
  TELEMETRY_TYP,
  type TelemetryBatch,
  verifyMessage,
} from '../../protocol/messages/index.js';

const PREFIX = 'wattproof/v1/gw/';

/** Telemetry from this device name carries the agent's own figures (point "outbox" = backlog). */
export const AGENT_DEVICE = 'agent';

/** How much older than the birth a session's last will may be (the agent signs both at connect). */
export const WILL_SLACK_MS = 60_000;

export interface ObservedStatus {
  state: 'online' | 'offline';
  version: string;
  configHash: string;
  clockSynchronised: boolean;
  at: number;
  receivedMs: number;
  /** When the state last changed (received time). */
  sinceMs: number;
}

export interface Series {
  t: Float64Array;
  v: Float64Array;
  start: number;
  length: number;
}

export interface DeviceView {
  name: string;
  lastSampleMs: number;
  points: Map<string, Series>;
}

export interface ObservedProof {
  seq: number;
  meter: string;
  intervalStart: number;
  intervalEnd: number;
  flags: string[];
  receivedMs: number;
  importWh: number;
  exportWh: number;
}

export interface GatewayObservation {
  gw: string;
  status?: ObservedStatus;
  lastSeenMs: number;
  devices: Map<string, DeviceView>;
  lastProof?: ObservedProof;
  /** The last proof per meter (device health reads their flags). */
  proofsByMeter: Map<string, ObservedProof>;
  /** Outbox depth the agent reported in telemetry, when it does. */
  reportedBacklog?: { value: number; at: number };
  refused: number;
}

export interface ObserverOptions {
  /** The gateway's bound public key, or undefined when it is not enrolled. */
  keyOf(gw: string): Uint8Array | undefined;
  /** Ed25519 check (the hub passes node:crypto's; default @noble via protocol). */
  verifySignature?: (sig: Uint8Array, msg: Uint8Array, pub: Uint8Array) => boolean;
  /** Samples kept per device point. */
  seriesCapacity?: number;
  now?: () => number;
}

export type ObserverEvent =
  | { kind: 'gateway'; gw: string }
  | { kind: 'telemetry'; gw: string; samples: TelemetryBatch['samples'] };

export class GatewayObserver {
  readonly gateways = new Map<string, GatewayObservation>();
  private readonly listeners = new Set<(e: ObserverEvent) => void>();
  private readonly capacity: number;
  private readonly now: () => number;
  /** Messages seen, by topic kind and outcome (metrics read these). */
  readonly counts = new Map<string, number>();

  constructor(private readonly o: ObserverOptions) {
    this.capacity = o.seriesCapacity ?? 360;
    this.now = o.now ?? Date.now;
  }

  on(listener: (e: ObserverEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(e: ObserverEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch {
        // A listener's failure must not stop the others or the MQTT handler.
      }
    }
  }

  private count(kind: string, outcome: string): void {
    const k = `${kind}\u0000${outcome}`;
    this.counts.set(k, (this.counts.get(k) ?? 0) + 1);
  }

  private entry(gw: string): GatewayObservation {
    let g = this.gateways.get(gw);
    if (!g) {
      g = { gw, lastSeenMs: 0, devices: new Map(), proofsByMeter: new Map(), refused: 0 };
      this.gateways.set(gw, g);
    }
    return g;
  }

  /** One MQTT message from the hub's client. Never throws. */
  observe(topic: string, payload: Uint8Array): void {
    try {
      this.observeUnsafe(topic, payload);
    } catch {
      this.count('unknown', 'error');
    }
  }

  private observeUnsafe(topic: string, payload: Uint8Array): void {
    if (!topic.startsWith(PREFIX)) return;
    const [gw, kind, ...rest] = topic.slice(PREFIX.length).split('/');
    if (!gw || !kind || rest.length > 0) return;
    if (kind !== 'status' && kind !== 'telemetry' && kind !== 'proof' && kind !== 'event') return;
    const key = this.o.keyOf(gw);
    if (!key) {
      this.count(kind, 'gateway-unknown');
      return;
    }
    const text = new TextDecoder('utf-8', { fatal: false }).decode(payload);
    const typ = kind === 'status' ? GATEWAY_STATUS_TYP : kind === 'telemetry' ? TELEMETRY_TYP : undefined;
    const receivedMs = this.now();
    if (kind === 'event') {
      this.count(kind, 'received');
      this.touch(gw, receivedMs);
      return;
    }
    const checked = verifyMessage(text, {
      typ: typ ?? METER_PROOF_TYP,
      kid: gw,
      publicKeyFor: (kid) => (kid === gw ? key : undefined),
      ...(this.o.verifySignature ? { verifySignature: this.o.verifySignature } : {}),
    });
    if (!checked.ok) {
      this.count(kind, 'refused');
      const g = this.gateways.get(gw);
      if (g) g.refused++;
      return;
    }
    this.count(kind, 'verified');
    if (checked.typ === GATEWAY_STATUS_TYP) this.onStatus(gw, checked.payload, receivedMs);
    else if (checked.typ === TELEMETRY_TYP) this.onTelemetry(gw, checked.payload, receivedMs);
    else if (checked.typ === METER_PROOF_TYP) this.onProof(gw, checked.payload, receivedMs);
  }

  private touch(gw: string, t: number): GatewayObservation {
    const g = this.entry(gw);
    if (t > g.lastSeenMs) g.lastSeenMs = t;
    return g;
  }

  private onStatus(gw: string, s: GatewayStatus, receivedMs: number): void {
    const g = this.entry(gw);
    // A retained or late status older than the one we have does not roll the state back, with one
    // exception: the last will is signed when the agent connects, just before its birth status,
    // so the offline will of the current session is a little older than the online birth.
    if (g.status && g.status.at > s.at) {
      const willOfThisSession =
        s.state === 'offline' && g.status.state === 'online' && g.status.at - s.at <= WILL_SLACK_MS;
      if (!willOfThisSession) return;
    }
    const changed = g.status?.state !== s.state;
    g.status = {
      state: s.state,
      version: s.version,
      configHash: s.configHash,
      clockSynchronised: s.clockSynchronised,
      at: s.at,
      receivedMs,
      sinceMs: changed ? receivedMs : (g.status?.sinceMs ?? receivedMs),
    };
    // The last will is delivered by the broker after the gateway is gone: it is not a sign of life.
    if (s.state === 'online') this.touch(gw, receivedMs);
    this.emit({ kind: 'gateway', gw });
  }

  private onTelemetry(gw: string, b: TelemetryBatch, receivedMs: number): void {
    const g = this.touch(gw, receivedMs);
    for (const s of b.samples) {
      const value = s.scale ? s.value * 10 ** s.scale : s.value;
      if (s.device === AGENT_DEVICE && s.point === 'outbox') {
        g.reportedBacklog = { value, at: s.t };
        continue;
      }
      let d = g.devices.get(s.device);
      if (!d) {
        if (g.devices.size >= 64) continue; // bounded: a gateway cannot grow memory with made-up names
        d = { name: s.device, lastSampleMs: 0, points: new Map() };
        g.devices.set(s.device, d);
      }
      if (s.t > d.lastSampleMs) d.lastSampleMs = s.t;
      let series = d.points.get(s.point);
      if (!series) {
        if (d.points.size >= 64) continue;
        series = {
          t: new Float64Array(this.capacity),
          v: new Float64Array(this.capacity),
          start: 0,
          length: 0,
        };
        d.points.set(s.point, series);
      }
      pushSample(series, s.t, value);
    }
    this.emit({ kind: 'telemetry', gw, samples: b.samples });
    this.emit({ kind: 'gateway', gw });
  }

  private onProof(gw: string, p: MeterProof, receivedMs: number): void {
    const g = this.touch(gw, receivedMs);
    const proof: ObservedProof = {
      seq: p.seq,
      meter: p.meter.id,
      intervalStart: p.interval.start,
      intervalEnd: p.interval.end,
      flags: [...p.flags],
      receivedMs,
      importWh: p.importWh.end - p.importWh.start,
      exportWh: p.exportWh.end - p.exportWh.start,
    };
    // Replays of old proofs (an outbox draining) do not move "last proof" backwards.
    if (!g.lastProof || p.seq >= g.lastProof.seq) g.lastProof = proof;
    const byMeter = g.proofsByMeter.get(p.meter.id);
    if (!byMeter || p.seq >= byMeter.seq) g.proofsByMeter.set(p.meter.id, proof);
    this.emit({ kind: 'gateway', gw });
  }

  /** Seeds a gateway's status from the hub's own fleet state (e.g. after a restart). */
  seedStatus(
    gw: string,
    s: { state: 'online' | 'offline'; version: string; at: number; receivedMs: number },
  ) {
    const g = this.entry(gw);
    if (g.status && g.status.at >= s.at) return;
    g.status = { ...s, configHash: '', clockSynchronised: true, sinceMs: s.receivedMs };
  }
}

function pushSample(s: Series, t: number, v: number): void {
  const cap = s.t.length;
  const i = (s.start + s.length) % cap;
  s.t[i] = t;
  s.v[i] = v;
  if (s.length < cap) s.length++;
  else s.start = (s.start + 1) % cap;
}

/** A series as two plain arrays in time order, optionally only samples after `sinceMs`. */
export function seriesArrays(s: Series, sinceMs = 0): { t: number[]; v: number[] } {
  const t: number[] = [];
  const v: number[] = [];
  const cap = s.t.length;
  for (let k = 0; k < s.length; k++) {
    const i = (s.start + k) % cap;
    const ti = s.t[i] as number;
    if (ti > sinceMs) {
      t.push(ti);
      v.push(s.v[i] as number);
    }
  }
  return { t, v };
}

/** The typ of a stored compact JWS, without verifying (for display). */
export function typOf(compact: string): string | undefined {
  return decodeJwsUnverified(compact)?.header.typ;
}
