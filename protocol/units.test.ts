import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  alignDown,
  alignUp,
  costMinor,
  DEFAULT_SETTLEMENT_PERIOD_MS,
  formatKWh,
  formatMoney,
  gasWhFromDm3,
  intervalContaining,
  intervalCount,
  intervalsOf,
  isAligned,
  isSettlementPeriod,
  overlaps,
  whFromPower,
} from './units.js';

const Q = DEFAULT_SETTLEMENT_PERIOD_MS;
const T = Date.UTC(2026, 0, 15, 10, 0, 0);

describe('settlement intervals', () => {
  it('aligns to the period', () => {
    expect(isSettlementPeriod(Q)).toBe(true);
    expect(isSettlementPeriod(600_000)).toBe(false);
    expect(isAligned(T, Q)).toBe(true);
    expect(isAligned(T + 1, Q)).toBe(false);
    expect(alignDown(T + 899_999, Q)).toBe(T);
    expect(alignUp(T + 1, Q)).toBe(T + Q);
    expect(alignUp(T, Q)).toBe(T);
    expect(intervalContaining(T + 5, Q)).toEqual({ start: T, end: T + Q });
  });
  it('splits a window into intervals and counts them', () => {
    expect(intervalsOf({ start: T, end: T + 2 * Q }, Q)).toEqual([
      { start: T, end: T + Q },
      { start: T + Q, end: T + 2 * Q },
    ]);
    expect(intervalCount({ start: T, end: T + 4 * Q }, Q)).toBe(4);
    expect(() => intervalsOf({ start: T + 1, end: T + Q }, Q)).toThrow(/not aligned/);
    expect(() => intervalsOf({ start: T, end: T }, Q)).toThrow(/after its start/);
    expect(() => intervalCount({ start: T, end: T + 1 }, Q)).toThrow(/not aligned/);
    expect(() => intervalCount({ start: T + Q, end: T }, Q)).toThrow(/after its start/);
  });
  it('refuses bad periods and times', () => {
    expect(() => alignDown(T, 0)).toThrow(/positive integer/);
    expect(() => alignDown(-1, Q)).toThrow(/≥ 0/);
    expect(() => isAligned(1.5, Q)).toThrow(/integer/);
  });
  it('overlaps is half-open', () => {
    expect(overlaps({ start: 0, end: 10 }, { start: 10, end: 20 })).toBe(false);
    expect(overlaps({ start: 0, end: 11 }, { start: 10, end: 20 })).toBe(true);
  });
  it('alignDown ≤ t < alignDown + period, for any t', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 50 }),
        fc.constantFrom(60_000, 300_000, Q, 3_600_000),
        (t, p) => {
          const d = alignDown(t, p);
          return d <= t && t < d + p && d % p === 0 && alignUp(t, p) - t < p;
        },
      ),
    );
  });
});

describe('energy and money', () => {
  it('prices energy exactly with the rounding asked for', () => {
    expect(costMinor(1234, 21)).toBe(25); // 25.914
    expect(costMinor(1234, 21, 'ceil')).toBe(26);
    expect(costMinor(1234, 21, 'half-up')).toBe(26);
    expect(costMinor(1500, 21, 'half-up')).toBe(32); // 31.5
    expect(costMinor(1000, 21, 'ceil')).toBe(21);
    expect(costMinor(Number.MAX_SAFE_INTEGER, 1000)).toBe(Number.MAX_SAFE_INTEGER);
    expect(() => costMinor(Number.MAX_SAFE_INTEGER, 1001)).toThrow(/safe integer/);
    expect(() => costMinor(-1, 1)).toThrow(/≥ 0/);
    expect(() => costMinor(1, 0.5)).toThrow(/integer/);
  });
  it('converts gas volume and power × time exactly', () => {
    expect(gasWhFromDm3(1_000_500, 10_550)).toBe(10_555_275);
    expect(gasWhFromDm3(1, 999)).toBe(0);
    expect(whFromPower(3000, 900_000)).toBe(750);
    expect(whFromPower(1, 1_800_000, 'half-up')).toBe(1);
    expect(whFromPower(1, 1_799_999, 'half-up')).toBe(0);
  });
  it('formats for display', () => {
    expect(formatKWh(1234)).toBe('1.234 kWh');
    expect(formatKWh(-5)).toBe('-0.005 kWh');
    expect(formatMoney(1234, 'EUR')).toBe('12.34 EUR');
    expect(formatMoney(-7, 'EUR')).toBe('-0.07 EUR');
    expect(formatMoney(500, 'JPY', 0)).toBe('500 JPY');
    expect(() => formatKWh(1.5)).toThrow(/integer/);
    expect(() => formatMoney(1.5, 'EUR')).toThrow(/integer/);
  });
});
