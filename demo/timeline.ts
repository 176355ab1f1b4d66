// The demo's accelerated time, kept in the data folder so that a second run continues the same
// neighbourhood: every home's physics starts at `homesStartMs` (so the simulated counters are a
// pure function of seed and time, and replaying them after a restart gives the same readings),
// and simulated time resumes where the last run stopped. The agents and the simulators read one
// clock: the agent's own scaledClock (virtual = origin + (real − origin) × scale), with the
// origin chosen so that virtual time starts at the wanted moment.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { type Clock, scaledClock, systemClock } from '../agent/clock.js';

export const STATE_FILE = 'demo-state.json';
const FORMAT = 'wattproof-demo-state/1';

export interface DemoState {
  format: typeof FORMAT;
  /** Simulated time at which every home's physics starts, UTC ms. */
  homesStartMs: number;
  /** Simulated time when the last run stopped (or last saved), UTC ms. */
  lastVirtualMs: number;
  /** Settlement interval of this neighbourhood, minutes (fixed once proofs exist). */
  settlementMinutes: number;
  /** Homes created so far (a later run may add more, never fewer). */
  homes: number;
  /** Integration step of the home physics, ms (fixed: replay must give the same counters). */
  stepMs: number;
}

/** 10:00 UTC of the day `realMs` falls in: the sun is up all year, so the homes have something to trade. */
export function morningOf(realMs: number): number {
  const day = 86_400_000;
  return Math.floor(realMs / day) * day + 10 * 3_600_000;
}

export function readDemoState(file: string): DemoState | undefined {
  if (!existsSync(file)) return undefined;
  const raw = JSON.parse(readFileSync(file, 'utf8')) as Partial<DemoState>;
  if (
    raw.format !== FORMAT ||
    typeof raw.homesStartMs !== 'number' ||
    typeof raw.lastVirtualMs !== 'number' ||
    typeof raw.settlementMinutes !== 'number' ||
    typeof raw.homes !== 'number' ||
    typeof raw.stepMs !== 'number'
  ) {
    throw new Error(`${file}: not a demo state file (${FORMAT}); start over with --fresh`);
  }
  return raw as DemoState;
}

export function writeDemoState(file: string, s: DemoState): void {
  writeFileSync(file, `${JSON.stringify(s, null, 2)}\n`, { mode: 0o600 });
}

/**
 * The agent's scaled clock, with virtual time equal to `virtualStartMs` at real time `realNowMs`.
 * At speed 1 simulated time is real time (a scaled clock cannot start elsewhere).
 */
export function demoClock(speed: number, virtualStartMs: number, realNowMs = Date.now()): Clock {
  if (speed === 1) return systemClock;
  const origin = (speed * realNowMs - virtualStartMs) / (speed - 1);
  return scaledClock(speed, origin);
}
