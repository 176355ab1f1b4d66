// Limits failed enrolment attempts per source address (a sliding window), so guessing tokens is
// slow even though 256-bit tokens make it hopeless anyway; it also keeps a broken agent in a
// retry loop from filling the logs. Only failures count.
export interface FailureLimiterOptions {
  maxFailures: number;
  windowMs: number;
  now?: () => number;
}

export class FailureLimiter {
  private readonly failures = new Map<string, number[]>();
  private readonly now: () => number;

  constructor(private readonly opts: FailureLimiterOptions) {
    this.now = opts.now ?? Date.now;
  }

  private recent(source: string): number[] {
    const since = this.now() - this.opts.windowMs;
    const kept = (this.failures.get(source) ?? []).filter((t) => t > since);
    if (kept.length) this.failures.set(source, kept);
    else this.failures.delete(source);
    return kept;
  }

  /** Milliseconds until `source` may try again; 0 when it may try now. */
  retryAfterMs(source: string): number {
    const recent = this.recent(source);
    if (recent.length < this.opts.maxFailures) return 0;
    const oldest = recent[recent.length - this.opts.maxFailures] as number;
    return Math.max(1, oldest + this.opts.windowMs - this.now());
  }

  fail(source: string): void {
    const recent = this.recent(source);
    recent.push(this.now());
    this.failures.set(source, recent);
  }
}
