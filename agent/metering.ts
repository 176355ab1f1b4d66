// The metering core for one meter: turns timed samples of its cumulative counters into settlement
// intervals. Pure logic, no I/O and no timers: the agent feeds it samples (each with the wall and
// the monotonic time it was taken) and persists what it returns. The rules:
//  - intervals are aligned to the settlement period and never overlap: a new interval starts at the
//    previous one's end (or later, never earlier), whatever the wall clock does;
//  - an interval is closed by the first good reading at or after its end boundary, if that comes
//    within `lateMs`; its start reading is the previous interval's end reading, so proofs link;
//  - a reading too late to stand for the boundary is never stretched to cover it: that interval is
//    left unproven and the next one starts from the fresh reading, flagged 'partial';
//  - problems become flags, never silence (see METER_PROOF_FLAGS).

import type { MeterProofFlag } from '../protocol/messages/index.js';
import { alignDown } from '../protocol/units.js';

export interface Counters {
  /** Cumulative import energy, Wh (integer). */
  importWh: number;
  /** Cumulative export energy, Wh (integer). */
  exportWh: number;
  /** A gas meter that counts volume: its cumulative import volume, dm³ (importWh derives from it). */
  volumeDm3?: number;
}

export interface MeterSample {
  /** Wall-clock time the reading was taken, UTC ms. */
  wall: number;
  /** Monotonic time it was taken, ms. */
  mono: number;
  /** Whether the system clock was synchronised at that moment. */
  synced: boolean;
  counters: Counters;
  /** The device's scale factor for a counter changed since the previous read. */
  scaleChanged?: boolean;
}

/** What survives a restart: the open interval and its start reading. */
export interface MeterState {
  intervalStart: number;
  start: Counters;
  /** Flags already known for the open interval. */
  flags: MeterProofFlag[];
}

export interface ClosedInterval {
  interval: { start: number; end: number };
  importWh: { start: number; end: number };
  exportWh: { start: number; end: number };
  /** Gas by volume: the import volume counter at both ends, dm³. */
  volumeDm3?: { start: number; end: number };
  samples: number;
  expectedSamples: number;
  flags: MeterProofFlag[];
}

export type MeterEvent =
  /** Nothing to persist. */
  | { kind: 'none' }
  /** A new interval was opened without closing one (first reading, or after a skipped one). */
  | { kind: 'opened'; next: MeterState; skipped?: { start: number; end: number } }
  /** An interval was closed: sign it and persist `next` in the same transaction. */
  | { kind: 'closed'; closed: ClosedInterval; next: MeterState };

export interface MeterTiming {
  periodMs: number;
  pollMs: number;
  /** How long after a boundary a reading still stands for it. */
  lateMs: number;
  /** A disagreement between wall and monotonic time larger than this is a clock jump. */
  jumpToleranceMs: number;
}

const sortFlags = (flags: Iterable<MeterProofFlag>): MeterProofFlag[] => [...new Set(flags)].sort();

export class MeterIntervals {
  private state: MeterState | undefined;
  private flags = new Set<MeterProofFlag>();
  private slots = new Set<number>();
  private last: { wall: number; mono: number; counters?: Counters } | undefined;

  constructor(
    private readonly timing: MeterTiming,
    restored?: MeterState,
  ) {
    if (restored) {
      this.state = { ...restored, flags: [...restored.flags] };
      for (const f of restored.flags) this.flags.add(f);
      // Samples taken before the restart were lost with the process.
      this.flags.add('agent-restart');
      this.last = { wall: Number.NaN, mono: Number.NaN, counters: restored.start };
    }
  }

  get expectedSamples(): number {
    return Math.ceil(this.timing.periodMs / this.timing.pollMs);
  }

  /** The open interval's state (for status and persistence), if any. */
  current(): MeterState | undefined {
    return this.state ? { ...this.state, flags: sortFlags(this.flags) } : undefined;
  }

  /** The device failed to answer (or answered garbage) at `wall`. */
  onError(): void {
    this.flags.add('device-error');
  }

  /** The clock was seen unsynchronised while this interval was open. */
  onClockUnsynchronised(): void {
    this.flags.add('clock-unsynchronised');
  }

  onSample(s: MeterSample): MeterEvent {
    const { periodMs } = this.timing;
    const jumped = this.detectJump(s);
    const prev = this.last?.counters;
    this.last = { wall: s.wall, mono: s.mono, counters: s.counters };

    if (this.state === undefined) return this.open(s, [], undefined);

    const st = this.state;
    const end = st.intervalStart + periodMs;
    if (jumped) this.flags.add('clock-jump');
    if (!s.synced) this.flags.add('clock-unsynchronised');
    if (s.wall < st.intervalStart) {
      // The wall clock is behind the interval we already started: never go back. Wait for it.
      this.flags.add('clock-jump');
      this.noteCounters(prev, s);
      return { kind: 'none' };
    }
    if (s.wall < end) {
      this.noteCounters(prev, s);
      this.slots.add(Math.floor((s.wall - st.intervalStart) / this.timing.pollMs));
      return { kind: 'none' };
    }

    // At or past the boundary.
    const lateness = s.wall - end;
    if (lateness > this.timing.lateMs && !jumped) {
      // Too late to stand for the boundary (the agent was down, or the device silent, too long).
      const skipped = { start: st.intervalStart, end };
      return this.open(s, ['partial'], skipped);
    }
    this.noteCounters(prev, s);
    const flags = new Set(this.flags);
    if (jumped) {
      // A forward step: the reading is physically close to the previous one, but the interval's
      // true length is unknown.
      flags.add('clock-jump');
      flags.add('gap');
    }
    const expected = this.expectedSamples;
    const samples = Math.min(this.slots.size, expected);
    if (
      samples < expected &&
      !['agent-restart', 'device-error', 'gap', 'partial'].some((f) => flags.has(f as MeterProofFlag))
    ) {
      flags.add('gap');
    }
    if (
      (s.counters.importWh < st.start.importWh || s.counters.exportWh < st.start.exportWh) &&
      !flags.has('scale-change')
    ) {
      flags.add('counter-reset');
    }
    const closed: ClosedInterval = {
      interval: { start: st.intervalStart, end },
      importWh: { start: st.start.importWh, end: s.counters.importWh },
      exportWh: { start: st.start.exportWh, end: s.counters.exportWh },
      ...(st.start.volumeDm3 !== undefined && s.counters.volumeDm3 !== undefined
        ? { volumeDm3: { start: st.start.volumeDm3, end: s.counters.volumeDm3 } }
        : {}),
      samples,
      expectedSamples: expected,
      flags: sortFlags(flags),
    };
    // The next interval normally starts at this boundary with this reading. After a forward jump
    // the wall clock may be several periods on; it starts where the clock now is, flagged.
    const nextStart = alignDown(s.wall, periodMs);
    const nextFlags: MeterProofFlag[] = [];
    if (nextStart !== end) nextFlags.push('partial', 'clock-jump');
    if (!s.synced) nextFlags.push('clock-unsynchronised');
    this.resetInterval({ intervalStart: nextStart, start: { ...s.counters }, flags: nextFlags });
    this.slots.add(Math.floor((s.wall - nextStart) / this.timing.pollMs));
    return { kind: 'closed', closed, next: this.current()! };
  }

  private open(
    s: MeterSample,
    extra: MeterProofFlag[],
    skipped: { start: number; end: number } | undefined,
  ): MeterEvent {
    const intervalStart = alignDown(s.wall, this.timing.periodMs);
    const flags: MeterProofFlag[] = [...extra];
    if (s.wall !== intervalStart) flags.push('partial');
    if (!s.synced) flags.push('clock-unsynchronised');
    if (this.flags.has('agent-restart') && skipped) flags.push('agent-restart');
    this.resetInterval({ intervalStart, start: { ...s.counters }, flags });
    this.slots.add(Math.floor((s.wall - intervalStart) / this.timing.pollMs));
    const next = this.current()!;
    return skipped ? { kind: 'opened', next, skipped } : { kind: 'opened', next };
  }

  private resetInterval(st: MeterState): void {
    this.state = st;
    this.flags = new Set(st.flags);
    this.slots = new Set();
  }

  private noteCounters(prev: Counters | undefined, s: MeterSample): void {
    if (s.scaleChanged) this.flags.add('scale-change');
    if (prev && (s.counters.importWh < prev.importWh || s.counters.exportWh < prev.exportWh)) {
      if (!s.scaleChanged) this.flags.add('counter-reset');
    }
  }

  /** A jump: wall time moved differently from monotonic time by more than the tolerance. */
  private detectJump(s: MeterSample): boolean {
    const l = this.last;
    if (!l || Number.isNaN(l.wall)) return false;
    const drift = s.wall - l.wall - (s.mono - l.mono);
    return Math.abs(drift) > this.timing.jumpToleranceMs;
  }
}
