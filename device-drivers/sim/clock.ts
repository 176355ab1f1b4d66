// Simulated time: real time sped up by a factor (the CLI), or set by hand (tests drive it directly).

export interface SimClock {
  /** Simulated time, UTC ms. */
  now(): number;
}

/** Real time × speed from a starting point: at speed 60 a simulated hour passes every real minute. */
export class ScaledClock implements SimClock {
  private readonly realStart: number;

  constructor(
    private readonly startMs: number,
    readonly speed = 1,
    private readonly realNow: () => number = Date.now,
  ) {
    if (!(speed > 0) || !Number.isFinite(speed))
      throw new RangeError(`speed must be a positive number, got ${speed}`);
    this.realStart = realNow();
  }

  now(): number {
    return Math.floor(this.startMs + (this.realNow() - this.realStart) * this.speed);
  }
}

/** A clock that moves only when told to. */
export class ManualClock implements SimClock {
  constructor(private t: number) {}

  now(): number {
    return this.t;
  }

  set(tMs: number): void {
    if (tMs < this.t) throw new RangeError('simulated time never runs backwards');
    this.t = tMs;
  }

  advance(ms: number): void {
    this.set(this.t + ms);
  }
}
