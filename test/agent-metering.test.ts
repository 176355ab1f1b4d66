// The metering core is driven here with explicit wall and monotonic times: a test cannot change
// the system clock, so the clock is an input (the agent passes the real one).
import { describe, expect, it } from 'vitest';
import { type ClosedInterval, type MeterEvent, MeterIntervals, type MeterTiming } from '../agent/metering.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 1, 12, 0, 0); // aligned to every period
const timing: MeterTiming = { periodMs: MIN, pollMs: 5_000, lateMs: 30_000, jumpToleranceMs: 5_000 };

/** A meter whose counters grow 1 Wh per second of physical (monotonic) time. */
function run(
  m: MeterIntervals,
  steps: Array<{ mono: number; wall: number; synced?: boolean; reset?: boolean }>,
): ClosedInterval[] {
  const out: ClosedInterval[] = [];
  for (const s of steps) {
    const wh = Math.floor(s.mono / 1000);
    const ev: MeterEvent = m.onSample({
      wall: s.wall,
      mono: s.mono,
      synced: s.synced ?? true,
      counters: { importWh: s.reset ? 0 : 1_000 + wh, exportWh: 7 },
    });
    if (ev.kind === 'closed') out.push(ev.closed);
  }
  return out;
}

/** Samples every 5 s of physical time from mono a to b, with wall = mono + offset(mono). */
function steps(a: number, b: number, wallOf: (mono: number) => number, synced?: (mono: number) => boolean) {
  const out = [];
  for (let mono = a; mono <= b; mono += 5_000)
    out.push({ mono, wall: wallOf(mono), synced: synced?.(mono) ?? true });
  return out;
}

describe('metering intervals', () => {
  it('closes aligned intervals whose readings link, with full sample counts', () => {
    const m = new MeterIntervals(timing);
    const closed = run(
      m,
      steps(0, 4 * MIN, (t) => T0 + t),
    );
    expect(closed.map((c) => c.interval.start - T0)).toEqual([0, MIN, 2 * MIN, 3 * MIN]);
    for (let i = 1; i < closed.length; i++) {
      expect(closed[i]!.importWh.start).toBe(closed[i - 1]!.importWh.end);
      expect(closed[i]!.interval.start).toBe(closed[i - 1]!.interval.end);
    }
    expect(closed[0]).toMatchObject({
      importWh: { start: 1000, end: 1060 },
      samples: 12,
      expectedSamples: 12,
      flags: [],
    });
  });

  it('flags the first interval partial when the agent starts mid-interval', () => {
    const m = new MeterIntervals(timing);
    const closed = run(
      m,
      steps(20_000, MIN + 10_000, (t) => T0 + t),
    );
    expect(closed[0]?.flags).toEqual(['partial']);
    expect(closed[0]?.samples).toBe(8);
  });

  it('flags missing samples as a gap, and a counter that goes backwards as a reset', () => {
    const m = new MeterIntervals(timing);
    const s = steps(0, 2 * MIN, (t) => T0 + t).filter((x) => x.mono < 20_000 || x.mono > 40_000);
    const closed = run(m, s);
    expect(closed[0]?.flags).toEqual(['gap']);
    const r = new MeterIntervals(timing);
    const withReset = steps(0, MIN, (t) => T0 + t).map((x) => ({ ...x, reset: x.mono >= 30_000 }));
    expect(run(r, withReset)[0]?.flags).toEqual(['counter-reset']);
  });

  it('starts unsynchronised, then the clock jumps forward: flags set, nothing runs backwards or overlaps', () => {
    // The gateway boots believing it is 12:00 while it is really 12:47:30; NTP steps the clock at
    // physical second 130, after which wall = true time.
    const jumpAt = 130_000;
    const offset = 47 * MIN + 30_000;
    const m = new MeterIntervals(timing);
    const closed = run(
      m,
      steps(
        0,
        6 * MIN,
        (t) => (t < jumpAt ? T0 + t : T0 + t + offset),
        (t) => t >= jumpAt,
      ),
    );
    const starts = closed.map((c) => c.interval.start);
    for (let i = 1; i < closed.length; i++) {
      expect(closed[i]!.interval.start).toBeGreaterThanOrEqual(closed[i - 1]!.interval.end);
      expect(closed[i]!.importWh.start).toBe(closed[i - 1]!.importWh.end); // readings still link
    }
    for (const c of closed) expect(c.interval.end - c.interval.start).toBe(MIN);
    expect(closed[0]?.flags).toEqual(['clock-unsynchronised']);
    // The interval open when the clock stepped is closed by the jump, flagged.
    expect(closed[2]?.flags).toEqual(expect.arrayContaining(['clock-jump', 'clock-unsynchronised', 'gap']));
    // The interval the clock landed in starts mid-way: partial, and says why.
    expect(closed[3]?.flags).toEqual(expect.arrayContaining(['clock-jump', 'partial']));
    expect(closed[3]?.interval.start).toBe(T0 + 49 * MIN);
    expect(closed.at(-1)?.flags).toEqual([]);
    expect(new Set(starts).size).toBe(starts.length);
  });

  it('a clock stepped backwards never produces an interval that runs backwards or overlaps', () => {
    // At physical second 100 the clock is stepped back by 3 minutes.
    const m = new MeterIntervals(timing);
    const closed = run(
      m,
      steps(0, 8 * MIN, (t) => (t < 100_000 ? T0 + t : T0 + t - 3 * MIN)),
    );
    for (let i = 1; i < closed.length; i++) {
      expect(closed[i]!.interval.start).toBe(closed[i - 1]!.interval.end);
      expect(closed[i]!.importWh.start).toBe(closed[i - 1]!.importWh.end);
    }
    for (const c of closed) expect(c.interval.end).toBeGreaterThan(c.interval.start);
    expect(closed[1]?.flags).toContain('clock-jump');
    // 8 physical minutes, 3 of them repeated on the wall clock: 5 intervals, the one open during
    // the step lasting 4 physical minutes (its counters show it) and flagged.
    expect(closed.map((c) => c.interval.start - T0)).toEqual([0, MIN, 2 * MIN, 3 * MIN, 4 * MIN]);
    expect(closed[1]!.importWh.end - closed[1]!.importWh.start).toBe(240);
  });

  it('after a restart continues the stored interval, or skips it when the boundary reading is too late', () => {
    const a = new MeterIntervals(timing);
    const first = run(
      a,
      steps(0, MIN + 20_000, (t) => T0 + t),
    );
    expect(first).toHaveLength(1);
    const saved = a.current()!;
    // Restart 10 s later: the open interval continues, flagged agent-restart.
    const b = new MeterIntervals(timing, saved);
    const again = run(
      b,
      steps(MIN + 30_000, 2 * MIN, (t) => T0 + t),
    );
    expect(again[0]).toMatchObject({ interval: { start: T0 + MIN }, flags: ['agent-restart'] });
    expect(again[0]?.importWh.start).toBe(first[0]?.importWh.end);
    // Restart 2 minutes later: the stored interval's boundary passed long ago; it is not guessed.
    const c = new MeterIntervals(timing, saved);
    const ev = c.onSample({
      wall: T0 + 3 * MIN + 10_000,
      mono: 0,
      synced: true,
      counters: { importWh: 2000, exportWh: 7 },
    });
    expect(ev).toMatchObject({ kind: 'opened', skipped: { start: T0 + MIN, end: T0 + 2 * MIN } });
    expect(c.current()).toMatchObject({ intervalStart: T0 + 3 * MIN, flags: ['agent-restart', 'partial'] });
  });
});
