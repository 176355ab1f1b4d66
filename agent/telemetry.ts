// Live readings wait here until the next telemetry batch. Bounded: when full the oldest sample is
// dropped and counted, so a long outage costs old telemetry, never memory. Proofs never come here.
import type { TelemetrySample } from '../protocol/messages/index.js';

export class TelemetryBuffer {
  private readonly items: (TelemetrySample | undefined)[];
  private head = 0;
  private length = 0;
  /** Samples dropped because the buffer was full. */
  dropped = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be ≥ 1');
    this.items = new Array(capacity);
  }

  get size(): number {
    return this.length;
  }

  push(sample: TelemetrySample): void {
    if (this.length === this.capacity) {
      this.head = (this.head + 1) % this.capacity;
      this.length--;
      this.dropped++;
    }
    this.items[(this.head + this.length) % this.capacity] = sample;
    this.length++;
  }

  /** Removes and returns up to `max` of the oldest samples, in time order. */
  take(max: number): TelemetrySample[] {
    const n = Math.min(max, this.length);
    const out: TelemetrySample[] = [];
    for (let i = 0; i < n; i++) {
      const idx = (this.head + i) % this.capacity;
      out.push(this.items[idx] as TelemetrySample);
      this.items[idx] = undefined;
    }
    this.head = (this.head + n) % this.capacity;
    this.length -= n;
    // Samples from several devices interleave; a batch must be in time order.
    return out.sort((a, b) => a.t - b.t);
  }
}
