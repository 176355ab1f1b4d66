// The optional fields the markets work added to prices: bilateral average and volume together,
// LMPs sorted by node, integers (LMPs may be negative).
import { describe, expect, it } from 'vitest';
import { examplePrices } from './examples.js';
import { parsePricePublication } from './price.js';

const paths = (p: unknown) => {
  const r = parsePricePublication(p);
  return r.ok ? [] : r.issues.map((i) => i.path);
};

function withFirst(extra: Record<string, unknown>) {
  const p = examplePrices();
  return { ...p, intervals: [{ ...p.intervals[0]!, ...extra }, ...p.intervals.slice(1)] };
}

describe('price publication: bilateral and LMP fields', () => {
  it('accepts the example without them and with all of them', () => {
    expect(parsePricePublication(examplePrices()).ok).toBe(true);
    const full = withFirst({
      bilateralVwapMinorPerKWh: 23,
      bilateralVolumeWh: 4_000,
      lmps: [
        { node: 'A', minorPerMWh: 1698 },
        { node: 'E', minorPerMWh: -120 },
      ],
    });
    expect(parsePricePublication(full).ok).toBe(true);
  });

  it('refuses an average without a volume, a zero volume, fractions, and unsorted or repeated nodes', () => {
    expect(paths(withFirst({ bilateralVwapMinorPerKWh: 23 }))).toEqual(['intervals[0].bilateralVolumeWh']);
    expect(paths(withFirst({ bilateralVwapMinorPerKWh: 23, bilateralVolumeWh: 0 }))).toEqual([
      'intervals[0].bilateralVolumeWh',
    ]);
    expect(paths(withFirst({ lmps: [{ node: 'A', minorPerMWh: 16.98 }] }))).toEqual([
      'intervals[0].lmps[0].minorPerMWh',
    ]);
    const twice = [
      { node: 'B', minorPerMWh: 1 },
      { node: 'B', minorPerMWh: 2 },
    ];
    expect(paths(withFirst({ lmps: twice }))).toEqual(['intervals[0].lmps[1]']);
    const unsorted = [
      { node: 'C', minorPerMWh: 1 },
      { node: 'B', minorPerMWh: 2 },
    ];
    expect(paths(withFirst({ lmps: unsorted }))).toEqual(['intervals[0].lmps[1]']);
    expect(paths(withFirst({ lmps: [] }))).toEqual(['intervals[0].lmps']);
  });
});
