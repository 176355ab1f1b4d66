// ModbusBus: the only way requests reach a transport. One request on the wire at a time (RS-485
// is half duplex, and many TCP gateways are serial underneath), first come first served, with a
// timeout, retries and an optional quiet gap per request. A device that stops answering is backed
// off — its requests fail at once without touching the wire until the back-off runs out, then one
// probe goes out — so a dead or slow device costs the others at most its timeout, once.
import { type BackoffPolicy, type DeviceHealth, DeviceHealthTracker, defaultBackoff } from './bus-health.js';
import {
  ModbusExceptionError,
  type ReadFunction,
  type RegisterSink,
  type RegisterSource,
} from './register-source.js';
import { isRetryable, ModbusBackedOffError, ModbusConnectionError } from './transport/errors.js';
import type { ModbusTransport } from './transport/transport.js';

export interface UnitOptions {
  /** Answer timeout per attempt, ms. */
  timeoutMs?: number;
  /** Extra attempts after a timeout or a garbled answer (exceptions are answers: never retried). */
  retries?: number;
  /** Quiet time on the bus before each request to this device, ms (slow devices need some). */
  interRequestDelayMs?: number;
}

export interface BusOptions extends UnitOptions {
  /** Back-off of a device that stopped answering; `false` turns it off (a scan wants every answer). */
  backoff?: Partial<BackoffPolicy> | false;
  /** Failed requests in a row after which a device is reported unreachable (default 3). */
  unreachableAfter?: number;
  /** Clock, UTC ms (tests pass their own). */
  now?: () => number;
}

interface Job {
  unit: number;
  send: (timeoutMs: number) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class ModbusBus implements RegisterSource, RegisterSink {
  private readonly queue: Job[] = [];
  private readonly unitOptions = new Map<number, UnitOptions>();
  private readonly tracker: DeviceHealthTracker;
  private readonly defaults: Required<UnitOptions>;
  private readonly now: () => number;
  private running = false;
  private closed = false;
  private lastWireAt = 0;
  /** Requests sent on the wire, attempts included (for the planner's figures and tests). */
  wireRequests = 0;

  constructor(
    readonly transport: ModbusTransport,
    options: BusOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.defaults = {
      timeoutMs: options.timeoutMs ?? transport.defaultTimeoutMs,
      retries: options.retries ?? 1,
      interRequestDelayMs: options.interRequestDelayMs ?? 0,
    };
    const backoff = options.backoff === false ? false : { ...defaultBackoff, ...options.backoff };
    this.tracker = new DeviceHealthTracker(this.now, backoff, options.unreachableAfter ?? 3);
  }

  /** Per-device settings (a slow meter may need a longer timeout or a gap before each request). */
  configureUnit(unit: number, options: UnitOptions): void {
    this.unitOptions.set(unit, { ...this.unitOptions.get(unit), ...options });
  }

  readRegisters(unit: number, fn: ReadFunction, address: number, count: number): Promise<Uint16Array> {
    return this.enqueue(unit, (timeoutMs) => this.transport.read(unit, fn, address, count, timeoutMs));
  }

  writeRegisters(unit: number, address: number, values: Uint16Array): Promise<void> {
    return this.enqueue(unit, (timeoutMs) => this.transport.write(unit, address, values, timeoutMs));
  }

  health(unit: number): DeviceHealth | undefined {
    return this.tracker.get(unit);
  }

  healthAll(): DeviceHealth[] {
    return this.tracker.all();
  }

  /** Requests waiting, not counting the one on the wire. */
  get queued(): number {
    return this.queue.length;
  }

  /** Fails everything still queued and closes the transport. */
  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) {
      job.reject(new ModbusConnectionError(`${this.transport.label}: bus closed`));
    }
    await this.transport.close();
  }

  private enqueue<T>(unit: number, send: (timeoutMs: number) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new ModbusConnectionError(`${this.transport.label}: bus closed`));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ unit, send, resolve: resolve as (value: unknown) => void, reject });
      if (!this.running) void this.pump();
    });
  }

  private async pump(): Promise<void> {
    this.running = true;
    try {
      for (let job = this.queue.shift(); job; job = this.queue.shift()) {
        try {
          job.resolve(await this.run(job));
        } catch (err) {
          job.reject(err);
        }
      }
    } finally {
      this.running = false;
    }
  }

  private async run(job: Job): Promise<unknown> {
    const { unit } = job;
    const until = this.tracker.backedOffUntil(unit);
    if (until !== null) {
      this.tracker.recordSkipped(unit);
      const h = this.tracker.get(unit);
      throw new ModbusBackedOffError(
        `${this.transport.label} unit ${unit}: backed off after ${h?.consecutiveFailures} failed requests ` +
          `(last: ${h?.lastError}); next try in ${until - this.now()} ms`,
        until,
      );
    }
    const opts = { ...this.defaults, ...this.unitOptions.get(unit) };
    // A probe after a back-off gets one attempt: a still-dead device should cost one timeout, not several.
    const attempts = this.tracker.isProbe(unit) ? 1 : 1 + opts.retries;
    this.tracker.recordRequest(unit);
    let lastErr: unknown;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (this.closed) throw new ModbusConnectionError(`${this.transport.label}: bus closed`);
      const gap =
        Math.max(opts.interRequestDelayMs, this.transport.minGapMs) - (Date.now() - this.lastWireAt);
      if (gap > 0) await sleep(gap);
      this.wireRequests++;
      try {
        const value = await job.send(opts.timeoutMs);
        this.tracker.recordAnswer(unit, attempt);
        return value;
      } catch (err) {
        if (err instanceof ModbusExceptionError) {
          this.tracker.recordAnswer(unit, attempt, err);
          throw err;
        }
        if (err instanceof RangeError) throw err;
        lastErr = err;
        const retry = attempt < attempts && isRetryable(err);
        this.tracker.recordAttemptError(unit, err, retry);
        if (!retry) break;
      } finally {
        this.lastWireAt = Date.now();
      }
    }
    this.tracker.recordFailure(unit);
    throw lastErr;
  }
}
