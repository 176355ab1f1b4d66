import { describe, expect, it } from 'vitest';
import {
  checkTable,
  modelLength,
  modelPointDefs,
  modelShape,
  SUNSPEC_MODELS,
  sunspecModel,
} from './index.js';

const REQUIRED = [
  1, 101, 102, 103, 111, 112, 113, 120, 124, 160, 201, 202, 203, 204, 211, 212, 213, 214, 701, 713, 802,
];

describe('SunSpec tables', () => {
  it('has a table for every model the issue names', () => {
    expect([...SUNSPEC_MODELS.keys()].sort((a, b) => a - b)).toEqual(REQUIRED);
  });

  for (const id of REQUIRED) {
    it(`model ${id} is internally consistent (contiguous offsets, sf links to sunssf points)`, () => {
      expect(checkTable(sunspecModel(id)!)).toEqual([]);
    });
  }

  it('checkTable reports a gap and a dangling sf link', () => {
    const bad = {
      id: 9,
      name: 'x',
      label: 'x',
      points: [
        { offset: 0, name: 'ID', type: 'uint16' as const, size: 1 },
        { offset: 1, name: 'L', type: 'uint16' as const, size: 1 },
        { offset: 3, name: 'W', type: 'int16' as const, size: 1, sf: 'W_SF' },
      ],
    };
    expect(checkTable(bad)).toEqual(['9.W: offset 3, expected 2', '9.W: sf W_SF is no sunssf point']);
  });

  it('knows the standard lengths', () => {
    expect(modelLength(sunspecModel(1)!)).toBe(66);
    expect(modelLength(sunspecModel(103)!)).toBe(50);
    expect(modelLength(sunspecModel(203)!)).toBe(105);
    expect(modelLength(sunspecModel(160)!, 2)).toBe(48);
    expect(modelLength(sunspecModel(124)!)).toBe(24);
    expect(modelLength(sunspecModel(802)!)).toBe(62);
  });
});

describe('modelPointDefs', () => {
  it('names points <model>.<point> with absolute addresses and resolved sf links', () => {
    const pts = modelPointDefs(sunspecModel(203)!, { id: 203, address: 40070, length: 105 });
    const byName = new Map(pts.map((p) => [p.name, p]));
    expect(byName.get('203.ID')).toMatchObject({ address: 40070, type: 'uint16', size: 1 });
    expect(byName.get('203.TotWhImp')).toMatchObject({
      address: 40070 + 46,
      type: 'acc32',
      size: 2,
      sf: '203.TotWh_SF',
      units: 'Wh',
      counter: true,
    });
    expect(byName.get('203.W')?.sf).toBe('203.W_SF');
  });

  it('expands repeating groups from the model length, group sf links pointing at the fixed block', () => {
    const def = sunspecModel(160)!;
    expect(modelShape(def, 48)).toEqual({ fixedLength: 8, repeats: 2, groupLength: 20, trailing: 0 });
    const pts = modelPointDefs(def, { id: 160, address: 40122, length: 48 });
    const m2 = pts.find((p) => p.name === '160.module[2].DCWH');
    expect(m2).toMatchObject({ address: 40122 + 10 + 20 + 12, sf: '160.DCWH_SF', counter: true });
    expect(pts.filter((p) => p.name.startsWith('160.module[3]'))).toEqual([]);
  });

  it('accepts the legacy 65-register common model (no pad) and leaves pads out', () => {
    const legacy = modelPointDefs(sunspecModel(1)!, { id: 1, address: 40002, length: 65 }).map((p) => p.name);
    const current = modelPointDefs(sunspecModel(1)!, { id: 1, address: 40002, length: 66 }).map(
      (p) => p.name,
    );
    expect(legacy).toEqual(current);
    expect(legacy).toContain('1.DA');
    expect(legacy).not.toContain('1.Pad');
  });

  it('drops points past a short model (an older revision) and takes a prefix for a second instance', () => {
    const pts = modelPointDefs(sunspecModel(203)!, { id: 203, address: 0, length: 53 }, { prefix: '203#2' });
    expect(pts.at(-1)?.name).toBe('203#2.TotWh_SF');
  });

  it('marks energy totals as counters in the integer, float and DER models, and ratings not', () => {
    const counters = (id: number) =>
      modelPointDefs(sunspecModel(id)!, { id, address: 0, length: modelLength(sunspecModel(id)!) })
        .filter((p) => p.counter)
        .map((p) => p.name);
    expect(counters(103)).toEqual(['103.WH']);
    expect(counters(113)).toEqual(['113.WH']);
    expect(counters(213)).toContain('213.TotWhImp');
    expect(counters(203)).toContain('203.TotWhExp');
    expect(counters(701)).toContain('701.TotWhInj');
    expect(counters(713)).toEqual([]);
    expect(counters(802)).toEqual([]);
  });
});
