// Integer units and settlement-interval arithmetic. Every signed quantity is an integer: energy in
// Wh, power in W, money in minor currency units, time in UTC milliseconds. Conversions that must
// divide say how they round, and compute exactly (BigInt) so no float ever touches money.

/** The settlement periods a meter interval may have: 1, 5, 15, 30 and 60 minutes. */
export const SETTLEMENT_PERIODS_MS: readonly number[] = [60_000, 300_000, 900_000, 1_800_000, 3_600_000];

/** 15 minutes, the default settlement period. */
export const DEFAULT_SETTLEMENT_PERIOD_MS = 900_000;

export function isSettlementPeriod(ms: number): boolean {
  return SETTLEMENT_PERIODS_MS.includes(ms);
}

function checkPeriod(periodMs: number): void {
  if (!Number.isSafeInteger(periodMs) || periodMs <= 0)
    throw new RangeError(`settlement period must be a positive integer of ms, got ${periodMs}`);
}

function checkTime(t: number, what: string): void {
  if (!Number.isSafeInteger(t) || t < 0)
    throw new RangeError(`${what} must be UTC ms as an integer ≥ 0, got ${t}`);
}

/** True when t is a multiple of the period (UTC epoch based). */
export function isAligned(t: number, periodMs: number): boolean {
  checkPeriod(periodMs);
  checkTime(t, 'time');
  return t % periodMs === 0;
}

/** The start of the period containing t. */
export function alignDown(t: number, periodMs: number): number {
  checkPeriod(periodMs);
  checkTime(t, 'time');
  return t - (t % periodMs);
}

/** The first period boundary at or after t. */
export function alignUp(t: number, periodMs: number): number {
  const down = alignDown(t, periodMs);
  return down === t ? t : down + periodMs;
}

export interface TimeInterval {
  start: number;
  end: number;
}

/** The settlement interval [start, end) that contains t. */
export function intervalContaining(t: number, periodMs: number): TimeInterval {
  const start = alignDown(t, periodMs);
  return { start, end: start + periodMs };
}

/** The settlement intervals covering an aligned window, in order. */
export function intervalsOf(window: TimeInterval, periodMs: number): TimeInterval[] {
  checkPeriod(periodMs);
  if (!isAligned(window.start, periodMs) || !isAligned(window.end, periodMs))
    throw new RangeError(`window [${window.start}, ${window.end}) is not aligned to ${periodMs} ms`);
  if (window.end <= window.start) throw new RangeError('window end must be after its start');
  const out: TimeInterval[] = [];
  for (let s = window.start; s < window.end; s += periodMs) out.push({ start: s, end: s + periodMs });
  return out;
}

/** How many settlement intervals an aligned window holds. */
export function intervalCount(window: TimeInterval, periodMs: number): number {
  checkPeriod(periodMs);
  if (!isAligned(window.start, periodMs) || !isAligned(window.end, periodMs))
    throw new RangeError(`window [${window.start}, ${window.end}) is not aligned to ${periodMs} ms`);
  if (window.end <= window.start) throw new RangeError('window end must be after its start');
  return (window.end - window.start) / periodMs;
}

/** True when [a) and [b) share any instant. */
export function overlaps(a: TimeInterval, b: TimeInterval): boolean {
  return a.start < b.end && b.start < a.end;
}

export type Rounding = 'floor' | 'ceil' | 'half-up';

function divRound(n: bigint, d: bigint, rounding: Rounding): bigint {
  // n ≥ 0, d > 0 throughout this module.
  const q = n / d;
  const r = n % d;
  if (r === 0n) return q;
  if (rounding === 'floor') return q;
  if (rounding === 'ceil') return q + 1n;
  return 2n * r >= d ? q + 1n : q;
}

function toSafe(n: bigint, what: string): number {
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError(`${what} exceeds the safe integer range`);
  return Number(n);
}

function checkNonNegative(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${what} must be an integer ≥ 0, got ${n}`);
}

/**
 * The price of `wh` at `priceMinorPerKWh` minor units per kWh: wh × price / 1000, rounded as
 * asked (settlement rules state which rounding they use). Exact for every safe integer input.
 */
export function costMinor(wh: number, priceMinorPerKWh: number, rounding: Rounding = 'floor'): number {
  checkNonNegative(wh, 'energy (Wh)');
  checkNonNegative(priceMinorPerKWh, 'price (minor units per kWh)');
  return toSafe(divRound(BigInt(wh) * BigInt(priceMinorPerKWh), 1000n, rounding), 'cost');
}

/**
 * Gas energy from a cumulative volume counter: floor(dm³ × calorific value (Wh per m³) / 1000).
 * Applied to the cumulative counter (not to deltas) so that consecutive intervals sum exactly.
 */
export function gasWhFromDm3(volumeDm3: number, calorificValueWhPerM3: number): number {
  checkNonNegative(volumeDm3, 'gas volume (dm³)');
  checkNonNegative(calorificValueWhPerM3, 'calorific value (Wh per m³)');
  return toSafe((BigInt(volumeDm3) * BigInt(calorificValueWhPerM3)) / 1000n, 'gas energy');
}

/** Energy delivered at a constant power over a duration: W × ms / 3 600 000, rounded as asked. */
export function whFromPower(powerW: number, durationMs: number, rounding: Rounding = 'floor'): number {
  checkNonNegative(powerW, 'power (W)');
  checkNonNegative(durationMs, 'duration (ms)');
  return toSafe(divRound(BigInt(powerW) * BigInt(durationMs), 3_600_000n, rounding), 'energy');
}

/** "1.234 kWh" from 1234 Wh, exactly, for display only (never for computation). */
export function formatKWh(wh: number): string {
  if (!Number.isSafeInteger(wh)) throw new RangeError(`energy must be an integer Wh, got ${wh}`);
  const sign = wh < 0 ? '-' : '';
  const abs = Math.abs(wh);
  return `${sign}${Math.floor(abs / 1000)}.${String(abs % 1000).padStart(3, '0')} kWh`;
}

/** "12.34 EUR" from 1234 minor units with 2 decimals, exactly, for display only. */
export function formatMoney(minor: number, currency: string, decimals = 2): string {
  if (!Number.isSafeInteger(minor)) throw new RangeError(`money must be integer minor units, got ${minor}`);
  const sign = minor < 0 ? '-' : '';
  const abs = Math.abs(minor);
  if (decimals === 0) return `${sign}${abs} ${currency}`;
  const scale = 10 ** decimals;
  return `${sign}${Math.floor(abs / scale)}.${String(abs % scale).padStart(decimals, '0')} ${currency}`;
}
