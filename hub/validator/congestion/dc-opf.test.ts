import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildNetwork } from './dc-flow.js';
import { solveDcOpf } from './dc-opf.js';
import { type GridModel, readGridModelFile } from './grid-model.js';
import { type Highs, loadSolver } from './lp.js';
import { CongestionInfeasibleError } from './redispatch.js';

const grids = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../grids');
let highs: Highs;
beforeAll(async () => {
  highs = await loadSolver();
});

/**
 * The same DC-OPF in the angle formulation, written as CPLEX LP text and solved through HiGHS's
 * text interface: a bus balance row per bus (its dual is the LMP directly), a flow definition
 * per line, no PTDFs. Shares nothing with dc-opf.ts but the model file.
 */
function lmpsByAngles(
  h: Highs,
  m: GridModel,
): { lmp: Record<string, number>; cost: number; dispatch: number[] } {
  const bus = new Map(m.buses.map((b, i) => [b.id, i]));
  const load = m.buses.map(() => 0);
  for (const l of m.loads) {
    const i = bus.get(l.bus) as number;
    load[i] = (load[i] as number) + l.W / 1e6;
  }
  const obj = m.generators.map((g, i) => `${g.priceMinorPerMWh} g${i}`).join(' + ');
  const rows: string[] = [];
  m.buses.forEach((b, n) => {
    const terms: string[] = [];
    m.generators.forEach((g, i) => {
      if (g.bus === b.id) terms.push(`+ g${i}`);
    });
    m.lines.forEach((l, k) => {
      if (l.from === b.id) terms.push(`- f${k}`);
      if (l.to === b.id) terms.push(`+ f${k}`);
    });
    rows.push(` bal${n}: ${terms.join(' ')} = ${load[n]}`);
  });
  m.lines.forEach((l, k) => {
    const bb = (m.baseMVA / ((l.x as number) * (l.tap ?? 1))).toString();
    rows.push(` def${k}: f${k} - ${bb} t${bus.get(l.from)} + ${bb} t${bus.get(l.to)} = 0`);
  });
  const bounds: string[] = [];
  m.generators.forEach((g, i) => {
    bounds.push(` ${g.minW / 1e6} <= g${i} <= ${g.maxW / 1e6}`);
  });
  m.buses.forEach((b, n) => {
    bounds.push(b.id === m.slack ? ` t${n} = 0` : ` t${n} free`);
  });
  m.lines.forEach((l, k) => {
    const lim = l.limitW === 'unlimited' || l.limitW === undefined ? undefined : l.limitW / 1e6;
    bounds.push(lim === undefined ? ` f${k} free` : ` -${lim} <= f${k} <= ${lim}`);
  });
  const text = `Minimize\n obj: ${obj}\nSubject To\n${rows.join('\n')}\nBounds\n${bounds.join('\n')}\nEnd\n`;
  const r = h.solve(text, { output_flag: false });
  if (r.Status !== 'Optimal') throw new Error(`angle LP: ${r.Status}`);
  const lmp: Record<string, number> = {};
  for (const row of r.Rows as unknown as { Name: string; Dual: number }[]) {
    const n = /^bal(\d+)$/.exec(row.Name);
    if (n) lmp[m.buses[Number(n[1])]?.id as string] = row.Dual;
  }
  const cols = r.Columns as Record<string, { Primal: number }>;
  return { lmp, cost: r.ObjectiveValue, dispatch: m.generators.map((_, i) => cols[`g${i}`]?.Primal ?? 0) };
}

describe('DC-OPF and LMPs: PJM 5-bus (Li & Bo 2010)', () => {
  it('dispatch and LMPs equal the published values', () => {
    const m = readGridModelFile(path.join(grids, 'pjm-5-bus.yaml'));
    const r = solveDcOpf(highs, m, buildNetwork(m));
    // Published (paper, and MATPOWER case5's Pg): Alta 40, Park City 170, Solitude 323.49,
    // Sundance 0, Brighton 466.51 MW.
    expect(r.dispatchW['Alta']).toBeCloseTo(40e6, 0);
    expect(r.dispatchW['Park-City']).toBeCloseTo(170e6, 0);
    expect((r.dispatchW['Solitude'] as number) / 1e6).toBeCloseTo(323.49, 2);
    expect(r.dispatchW['Sundance']).toBeCloseTo(0, 0);
    expect((r.dispatchW['Brighton'] as number) / 1e6).toBeCloseTo(466.51, 2);
    // Published LMPs, $/MWh: A 16.98, B 26.38, C 30.00, D 39.94, E 10.00 (to the cent).
    const published: Record<string, number> = { A: 16.98, B: 26.38, C: 30.0, D: 39.94, E: 10.0 };
    for (const [bus, usd] of Object.entries(published))
      expect(Math.round(r.lmp[bus] as number) / 100, `LMP at ${bus}`).toBe(usd);
    // Only D-E binds, at its 240 MW limit in the to→from direction (E → D): μ < 0.
    expect((r.flowsW['D-E'] as number) / 1e6).toBeCloseTo(-240, 6);
    expect(r.lineMu['D-E']).toBeLessThan(0);
    expect(Object.entries(r.lineMu).filter(([, v]) => v !== 0)).toHaveLength(1);
    // λ is the slack's (D's) LMP.
    expect(r.lambda).toBeCloseTo(r.lmp['D'] as number, 9);
  });

  it('LMPs equal those of the angle formulation (bus balance duals), PJM 5-bus', () => {
    const m = readGridModelFile(path.join(grids, 'pjm-5-bus.yaml'));
    const r = solveDcOpf(highs, m, buildNetwork(m));
    const alt = lmpsByAngles(highs, m);
    expect(r.costMinorPerHour).toBeCloseTo(alt.cost, 4);
    for (const b of m.buses) expect(r.lmp[b.id]).toBeCloseTo(alt.lmp[b.id] as number, 6);
  });

  it('IEEE 14-bus with a tightened line: LMPs separate and equal the angle formulation', () => {
    const base = readGridModelFile(path.join(grids, 'ieee-14-bus.yaml'));
    // Uncongested, every bus prices at the marginal $20 offer.
    const free = solveDcOpf(highs, base, buildNetwork(base));
    for (const b of base.buses) expect(free.lmp[b.id]).toBeCloseTo(2000, 6);
    const m: GridModel = {
      ...base,
      lines: base.lines.map((l) => (l.id === '1-2' || l.id === '1-5' ? { ...l, limitW: 60_000_000 } : l)),
    };
    const r = solveDcOpf(highs, m, buildNetwork(m));
    const alt = lmpsByAngles(highs, m);
    expect(r.costMinorPerHour).toBeCloseTo(alt.cost, 4);
    for (const b of m.buses) expect(r.lmp[b.id], `bus ${b.id}`).toBeCloseTo(alt.lmp[b.id] as number, 5);
    const prices = new Set(Object.values(r.lmp).map((v) => Math.round(v)));
    expect(prices.size).toBeGreaterThan(1);
    expect(Math.abs(r.flowsW['1-2'] as number)).toBeLessThanOrEqual(60_000_000 + 1e-3);
  });

  it('an unservable load is a clear error, not a number', () => {
    const base = readGridModelFile(path.join(grids, 'pjm-5-bus.yaml'));
    const m: GridModel = { ...base, loads: [...base.loads, { bus: 'B', W: 2_000_000_000 }] };
    expect(() => solveDcOpf(highs, m, buildNetwork(m))).toThrow(CongestionInfeasibleError);
    expect(() => solveDcOpf(highs, m, buildNetwork(m))).toThrow(/cannot serve the load/);
  });
});
