import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildNetwork, busBalance, lineFlows, overloads, ptdfAt, transferPtdf } from './dc-flow.js';
import { type GridModel, parseGridModel, readGridModelFile } from './grid-model.js';

const grids = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../grids');

function triangle(x12: number, x23: number, x13: number, slack = '3'): GridModel {
  return parseGridModel({
    name: 'triangle',
    source: 'hand-made',
    baseMVA: 100,
    slack,
    buses: [
      { id: '1', region: 'r' },
      { id: '2', region: 'r' },
      { id: '3', region: 'r' },
    ],
    lines: [
      { id: '1-2', from: '1', to: '2', x: x12, limitW: 100 },
      { id: '2-3', from: '2', to: '3', x: x23, limitW: 100 },
      { id: '1-3', from: '1', to: '3', x: x13, limitW: 50 },
    ],
  });
}

describe('DC power flow, checked by hand', () => {
  it('splits a 1→3 transfer over two paths in inverse proportion to their reactance', () => {
    // Equal reactances 0.1: the direct path 1-3 has x = 0.1, the path 1-2-3 has x = 0.2. Current
    // divides inversely to reactance: 2/3 direct, 1/3 round. 90 W from 1 to 3 → 60 W on 1-3,
    // 30 W on 1-2 and on 2-3.
    const net = buildNetwork(triangle(0.1, 0.1, 0.1));
    const f = lineFlows(net, [90, 0, -90]);
    expect(f[net.lineIndex.get('1-3') as number]).toBeCloseTo(60, 10);
    expect(f[net.lineIndex.get('1-2') as number]).toBeCloseTo(30, 10);
    expect(f[net.lineIndex.get('2-3') as number]).toBeCloseTo(30, 10);
    // 60 W on 1-3 is over its 50 W limit, in the from→to direction.
    expect(overloads(net, f)).toEqual([{ line: '1-3', flowW: f[2], limitW: 50, direction: 1 }]);
  });

  it('gives equal splits when both paths have the same reactance, and the PTDFs by hand', () => {
    // x12 + x23 = 0.1 + 0.2 = 0.3 = x13: half each way. With slack 3, injecting at 2: the paths
    // 2-3 (x 0.2) and 2-1-3 (x 0.4) share 2/3 and 1/3, so PTDF[2-3][2] = 2/3, PTDF[1-2][2] = −1/3.
    const net = buildNetwork(triangle(0.1, 0.2, 0.3));
    const f = lineFlows(net, [100, 0, -100]);
    expect(f[net.lineIndex.get('1-3') as number]).toBeCloseTo(50, 10);
    expect(f[net.lineIndex.get('1-2') as number]).toBeCloseTo(50, 10);
    expect(ptdfAt(net, net.lineIndex.get('2-3') as number, 1)).toBeCloseTo(2 / 3, 12);
    expect(ptdfAt(net, net.lineIndex.get('1-2') as number, 1)).toBeCloseTo(-1 / 3, 12);
    expect(ptdfAt(net, 0, 2)).toBe(0); // the slack's column
  });

  it('reads a reactance in ohms with a base voltage as per unit', () => {
    // 230 kV, 100 MVA: Z_base = 230² / 100 = 529 Ω, so 52.9 Ω is 0.1 pu.
    const m = triangle(0.1, 0.1, 0.1);
    const ohms = parseGridModel({
      ...m,
      lines: m.lines.map((l) =>
        l.id === '1-3' ? { id: l.id, from: l.from, to: l.to, xOhm: 52.9, baseKV: 230, limitW: 50 } : l,
      ),
    });
    const a = lineFlows(buildNetwork(m), [90, 0, -90]);
    const b = lineFlows(buildNetwork(ohms), [90, 0, -90]);
    for (let i = 0; i < 3; i++) expect(b[i]).toBeCloseTo(a[i] as number, 9);
  });
});

describe('published grids', () => {
  it('IEEE 14-bus base-case DC flows equal an independent computation', () => {
    // Reference: numpy.linalg.solve on the angle formulation (B·θ = P, f = (θ_from − θ_to)/(x·tap))
    // with the source's loads and generation 232.4 MW at bus 1 (slack), 40 MW at bus 2; MW.
    const reference: [string, number][] = [
      ['1-2', 147.838596],
      ['1-5', 71.161404],
      ['2-3', 70.014636],
      ['2-4', 55.151853],
      ['2-5', 40.972107],
      ['3-4', -24.185364],
      ['4-5', -61.746491],
      ['4-7', 28.361153],
      ['4-9', 16.551827],
      ['5-6', 42.787021],
      ['6-11', 6.728346],
      ['6-12', 7.607358],
      ['6-13', 17.251317],
      ['7-8', 0],
      ['7-9', 28.361153],
      ['9-10', 5.771654],
      ['9-14', 9.641325],
      ['10-11', -3.228346],
      ['12-13', 1.507358],
      ['13-14', 5.258675],
    ];
    const m = readGridModelFile(path.join(grids, 'ieee-14-bus.yaml'));
    const net = buildNetwork(m);
    const p = new Array<number>(net.busIds.length).fill(0);
    const add = (bus: string, w: number) => {
      const i = net.busIndex.get(bus) as number;
      p[i] = (p[i] as number) + w;
    };
    for (const l of m.loads) add(l.bus, -l.W);
    add('2', 40e6);
    const f = lineFlows(net, p);
    for (const [id, mw] of reference)
      expect((f[net.lineIndex.get(id) as number] as number) / 1e6).toBeCloseTo(mw, 5);
    expect(overloads(net, f)).toEqual([]); // the chosen limits leave the base case feasible
  });

  it('IEEE 118-bus base-case DC flows equal an independent computation', () => {
    // Same numpy reference, MATPOWER case118 generation, slack bus 69.
    const reference: [string, number][] = [
      ['1-2', -11.766078],
      ['8-9', -450],
      ['9-10', -450],
      ['8-30', 84.465445],
      ['62-67', -23.133586],
      ['76-118', -3.202727],
    ];
    const pg: Record<string, number> = {
      '10': 450,
      '12': 85,
      '25': 220,
      '26': 314,
      '31': 7,
      '46': 19,
      '49': 204,
      '54': 48,
      '59': 155,
      '61': 160,
      '65': 391,
      '66': 392,
      '80': 477,
      '87': 4,
      '89': 607,
      '100': 252,
      '103': 40,
      '111': 36,
    };
    const m = readGridModelFile(path.join(grids, 'ieee-118-bus.yaml'));
    expect([m.buses.length, m.lines.length, m.generators.length]).toEqual([118, 186, 54]);
    const net = buildNetwork(m);
    const p = new Array<number>(net.busIds.length).fill(0);
    const add = (bus: string, w: number) => {
      const i = net.busIndex.get(bus) as number;
      p[i] = (p[i] as number) + w;
    };
    for (const l of m.loads) add(l.bus, -l.W);
    for (const [bus, mw] of Object.entries(pg)) add(bus, mw * 1e6);
    const f = lineFlows(net, p);
    for (const [id, mw] of reference)
      expect((f[net.lineIndex.get(id) as number] as number) / 1e6).toBeCloseTo(mw, 5);
  });
});

// Random connected grids: a random spanning tree plus extra lines, random reactances.
const randomGrid = fc
  .integer({ min: 2, max: 9 })
  .chain((n) =>
    fc.record({
      n: fc.constant(n),
      parents: fc.array(fc.nat(), { minLength: n - 1, maxLength: n - 1 }),
      extra: fc.array(fc.tuple(fc.nat(n - 1), fc.nat(n - 1)), { maxLength: 8 }),
      x: fc.array(fc.double({ min: 0.01, max: 1, noNaN: true }), {
        minLength: n - 1 + 8,
        maxLength: n - 1 + 8,
      }),
      slack: fc.nat(n - 1),
      injections: fc.array(fc.integer({ min: -1_000_000, max: 1_000_000 }), { minLength: n, maxLength: n }),
    }),
  )
  .map(({ n, parents, extra, x, slack, injections }) => {
    const lines: { id: string; from: string; to: string; x: number; limitW: number }[] = [];
    for (let i = 1; i < n; i++) {
      const parent = (parents[i - 1] as number) % i;
      lines.push({ id: `t${i}`, from: `b${parent}`, to: `b${i}`, x: x[i - 1] as number, limitW: 1000 });
    }
    extra
      .filter(([a, b]) => a !== b)
      .forEach(([a, b], k) => {
        lines.push({ id: `e${k}`, from: `b${a}`, to: `b${b}`, x: x[n - 1 + k] as number, limitW: 1000 });
      });
    const model = parseGridModel({
      name: 'random',
      source: 'fast-check',
      baseMVA: 100,
      slack: `b${slack}`,
      buses: Array.from({ length: n }, (_, i) => ({ id: `b${i}`, region: 'r' })),
      lines,
    });
    return { model, injections, treeLines: n - 1 };
  });

describe('DC power flow properties on random grids', () => {
  it('flows conserve power: at every bus, flow out − flow in = injection (the slack takes the rest)', () => {
    fc.assert(
      fc.property(randomGrid, ({ model, injections }) => {
        const net = buildNetwork(model);
        const bal = busBalance(net, lineFlows(net, injections));
        const total = injections.reduce((a, b) => a + b, 0);
        net.busIds.forEach((_, i) => {
          const expected = i === net.slack ? (injections[i] as number) - total : (injections[i] as number);
          expect(bal[i]).toBeCloseTo(expected, 4);
        });
      }),
      { numRuns: 200 },
    );
  });

  it('PTDF columns: slack column zero; each column is a unit transfer (KCL holds per column)', () => {
    fc.assert(
      fc.property(randomGrid, ({ model }) => {
        const net = buildNetwork(model);
        const n = net.busIds.length;
        for (let j = 0; j < n; j++) {
          const col = net.lines.map((_, l) => ptdfAt(net, l, j));
          if (j === net.slack) expect(col.every((v) => v === 0)).toBe(true);
          else {
            const bal = busBalance(net, col);
            for (let i = 0; i < n; i++) expect(bal[i]).toBeCloseTo(i === j ? 1 : i === net.slack ? -1 : 0, 9);
          }
        }
      }),
      { numRuns: 200 },
    );
  });

  it('transfer PTDFs do not depend on the slack and never exceed 1 in magnitude', () => {
    fc.assert(
      fc.property(randomGrid, fc.nat(), fc.nat(), fc.nat(), ({ model }, a, b, s) => {
        const n = model.buses.length;
        const other = parseGridModel({ ...model, slack: `b${s % n}` });
        const n1 = buildNetwork(model);
        const n2 = buildNetwork(other);
        const t1 = transferPtdf(n1, a % n, b % n);
        const t2 = transferPtdf(n2, a % n, b % n);
        t1.forEach((v, l) => {
          expect(v).toBeCloseTo(t2[l] as number, 9);
          expect(Math.abs(v)).toBeLessThanOrEqual(1 + 1e-9);
        });
      }),
      { numRuns: 200 },
    );
  });

  it('on a tree every transfer PTDF is 0 or ±1 (a radial line carries all or nothing)', () => {
    fc.assert(
      fc.property(randomGrid, fc.nat(), fc.nat(), ({ model }, a, b) => {
        const tree = parseGridModel({ ...model, lines: model.lines.filter((l) => l.id.startsWith('t')) });
        const n = tree.buses.length;
        for (const v of transferPtdf(buildNetwork(tree), a % n, b % n)) {
          const r = Math.round(v);
          expect([-1, 0, 1]).toContain(r);
          expect(v).toBeCloseTo(r, 9);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('a transfer across a line, from its from-bus to its to-bus, puts between 0 and 1 of it there', () => {
    fc.assert(
      fc.property(randomGrid, ({ model }) => {
        const net = buildNetwork(model);
        net.lines.forEach((l, i) => {
          const v = transferPtdf(net, l.from, l.to)[i] as number;
          expect(v).toBeGreaterThan(0);
          expect(v).toBeLessThanOrEqual(1 + 1e-9);
        });
      }),
      { numRuns: 200 },
    );
  });
});
