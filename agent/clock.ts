// Time as the agent sees it, passed in as a dependency. `run` uses the system clock with
// node-schedule for boundaries aligned to the wall clock; tests and demos use a scaled clock
// (accelerated time, shared by restarts through a fixed origin) or drive the metering core with
// explicit times. The wall clock can jump (NTP steps it); the monotonic clock cannot, and comparing
// the two is how a jump is detected.
import { performance } from 'node:perf_hooks';
import schedule from 'node-schedule';

export interface Clock {
  /** Wall-clock time, UTC milliseconds. May jump. */
  now(): number;
  /** Milliseconds on a clock that never jumps (its origin is arbitrary). */
  monotonic(): number;
  /** Calls `fn` after `ms` of this clock's (monotonic) time. Returns a cancel function. */
  after(ms: number, fn: () => void): () => void;
  /** Calls `fn` when the wall clock reaches `wallMs` (or soon after). Returns a cancel function. */
  at(wallMs: number, fn: () => void): () => void;
}

/** The system clock. Boundaries are scheduled with node-schedule, which handles long delays. */
export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  after(ms, fn) {
    const t = setTimeout(fn, Math.max(0, ms));
    return () => clearTimeout(t);
  },
  at(wallMs, fn) {
    if (wallMs <= Date.now()) {
      const t = setTimeout(fn, 0);
      return () => clearTimeout(t);
    }
    const job = schedule.scheduleJob(new Date(wallMs), fn);
    return () => job?.cancel();
  },
};

/**
 * Accelerated time for tests and demos: wall = origin + (realNow − origin) × scale. The origin is
 * fixed (e.g. by the test), so a restarted process sees the same timeline, still running while it
 * was down, exactly like real time.
 */
export function scaledClock(scale: number, origin: number): Clock {
  if (!(scale > 0)) throw new Error('time scale must be > 0');
  const now = () => Math.floor(origin + (Date.now() - origin) * scale);
  return {
    now,
    monotonic: () => performance.now() * scale,
    after(ms, fn) {
      const t = setTimeout(fn, Math.max(0, ms / scale));
      return () => clearTimeout(t);
    },
    at(wallMs, fn) {
      const t = setTimeout(fn, Math.max(0, (wallMs - now()) / scale));
      return () => clearTimeout(t);
    },
  };
}
