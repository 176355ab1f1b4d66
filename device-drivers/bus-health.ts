// Per-device health on a Modbus bus: what the installer's `status` shows and what decides whether
// the bus backs a device off. Pure bookkeeping; the clock is passed in.
import { type ModbusExceptionError, ModbusTimeoutError } from './register-source.js';
import { ModbusConnectionError, ModbusFrameError } from './transport/errors.js';

export type HealthState = 'ok' | 'degraded' | 'unreachable';

export interface HealthCounts {
  /** Requests that reached the wire (retries not counted twice). */
  requests: number;
  /** Requests answered with data. */
  ok: number;
  /** Extra attempts after a timeout or a garbled answer. */
  retries: number;
  timeouts: number;
  frameErrors: number;
  exceptions: number;
  connectionErrors: number;
  /** Requests refused without touching the wire because the device was backed off. */
  skipped: number;
}

export interface DeviceHealth {
  unit: number;
  state: HealthState;
  lastError: string | null;
  lastErrorAt: number | null;
  lastSuccessAt: number | null;
  /** Requests in a row that got no usable answer, after their retries. */
  consecutiveFailures: number;
  /** While set and in the future, requests fail fast; the first one after it is a probe. */
  backedOffUntil: number | null;
  /** Length of the current back-off, ms (null when not backed off). */
  backoffMs: number | null;
  counts: HealthCounts;
}

export interface BackoffPolicy {
  /** Back-off after the first failed request (default 1000 ms). */
  initialMs: number;
  /** Growth per further failure (default 2). */
  factor: number;
  /** Longest back-off (default 60 000 ms). */
  maxMs: number;
}

export const defaultBackoff: BackoffPolicy = { initialMs: 1000, factor: 2, maxMs: 60_000 };

/** Back-off after `failures` failed requests in a row (≥ 1): initial × factor^(failures-1), capped. */
export function backoffDelay(failures: number, policy: BackoffPolicy): number {
  if (failures < 1) return 0;
  return Math.min(policy.maxMs, policy.initialMs * policy.factor ** (failures - 1));
}

export class DeviceHealthTracker {
  private readonly devices = new Map<number, DeviceHealth & { lastNeededRetry: boolean }>();

  constructor(
    private readonly now: () => number,
    private readonly backoff: BackoffPolicy | false,
    /** Failed requests in a row after which the device counts as unreachable (default 3). */
    private readonly unreachableAfter = 3,
  ) {}

  private entry(unit: number) {
    let e = this.devices.get(unit);
    if (!e) {
      e = {
        unit,
        state: 'ok',
        lastError: null,
        lastErrorAt: null,
        lastSuccessAt: null,
        consecutiveFailures: 0,
        backedOffUntil: null,
        backoffMs: null,
        lastNeededRetry: false,
        counts: {
          requests: 0,
          ok: 0,
          retries: 0,
          timeouts: 0,
          frameErrors: 0,
          exceptions: 0,
          connectionErrors: 0,
          skipped: 0,
        },
      };
      this.devices.set(unit, e);
    }
    return e;
  }

  /** UTC ms until which the unit is backed off, or null when it may be asked now. */
  backedOffUntil(unit: number): number | null {
    const until = this.devices.get(unit)?.backedOffUntil ?? null;
    return until !== null && until > this.now() ? until : null;
  }

  /** True when the unit's back-off has run out: the next request is a single-attempt probe. */
  isProbe(unit: number): boolean {
    return (this.devices.get(unit)?.backedOffUntil ?? null) !== null;
  }

  recordRequest(unit: number): void {
    this.entry(unit).counts.requests++;
  }

  recordSkipped(unit: number): void {
    this.entry(unit).counts.skipped++;
  }

  /** One attempt failed (it may be retried); counts it by kind. */
  recordAttemptError(unit: number, err: unknown, willRetry: boolean): void {
    const e = this.entry(unit);
    if (err instanceof ModbusFrameError) e.counts.frameErrors++;
    else if (err instanceof ModbusTimeoutError) e.counts.timeouts++;
    else if (err instanceof ModbusConnectionError) e.counts.connectionErrors++;
    if (willRetry) e.counts.retries++;
    e.lastError = err instanceof Error ? err.message : String(err);
    e.lastErrorAt = this.now();
  }

  /** The device answered (with data, or with an exception: it is alive either way). */
  recordAnswer(unit: number, attempts: number, err?: ModbusExceptionError): void {
    const e = this.entry(unit);
    if (err) {
      e.counts.exceptions++;
      e.lastError = err.message;
      e.lastErrorAt = this.now();
    } else {
      e.counts.ok++;
    }
    e.lastSuccessAt = this.now();
    e.consecutiveFailures = 0;
    e.backedOffUntil = null;
    e.backoffMs = null;
    e.lastNeededRetry = attempts > 1;
    e.state = e.lastNeededRetry ? 'degraded' : 'ok';
  }

  /** The request got no usable answer after all its attempts. */
  recordFailure(unit: number): void {
    const e = this.entry(unit);
    e.consecutiveFailures++;
    e.state = e.consecutiveFailures >= this.unreachableAfter ? 'unreachable' : 'degraded';
    if (this.backoff) {
      e.backoffMs = backoffDelay(e.consecutiveFailures, this.backoff);
      e.backedOffUntil = this.now() + e.backoffMs;
    }
  }

  get(unit: number): DeviceHealth | undefined {
    const e = this.devices.get(unit);
    if (!e) return undefined;
    const { lastNeededRetry: _, ...health } = e;
    return { ...health, counts: { ...e.counts } };
  }

  all(): DeviceHealth[] {
    return [...this.devices.keys()]
      .sort((a, b) => a - b)
      .map((u) => this.get(u))
      .filter((h): h is DeviceHealth => h !== undefined);
  }
}
