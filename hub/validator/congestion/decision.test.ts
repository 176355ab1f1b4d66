import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CongestionContract } from './contracts.js';
import { buildNetwork, lineFlows, type Network, transferPtdf } from './dc-flow.js';
import {
  CongestionInputError,
  type CongestionRequest,
  congestionInputs,
  decideCongestion,
  recompute,
  verifyDecision,
} from './decision.js';
import { type GridModel, parseGridModel, readGridModelFile } from './grid-model.js';
import { type Highs, loadSolver } from './lp.js';
import { CongestionInfeasibleError, flowsAt, solveContractLp } from './redispatch.js';

const grids = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../grids');
let highs: Highs;
beforeAll(async () => {
  highs = await loadSolver();
});

const HOUR = { start: 1_767_225_600_000, end: 1_767_225_600_000 + 3_600_000 }; // 1 Wh = 1 W
const QUARTER = { start: 1_767_225_600_000, end: 1_767_225_600_000 + 900_000 }; // 1 Wh = 4 W

/** Three buses in a triangle, all x = 0.1 pu, slack 3. Limits in W. */
function triangle(limit13: number, other = 1_000_000): GridModel {
  return parseGridModel({
    name: 'triangle',
    source: 'hand-made',
    baseMVA: 100,
    slack: '3',
    buses: ['1', '2', '3'].map((id) => ({ id, region: 'r' })),
    lines: [
      { id: '1-2', from: '1', to: '2', x: 0.1, limitW: other },
      { id: '2-3', from: '2', to: '3', x: 0.1, limitW: other },
      { id: '1-3', from: '1', to: '3', x: 0.1, limitW: limit13 },
    ],
  });
}

const minAdjustment = { method: 'min-adjustment' as const, weights: { default: 1 } };

describe('minimum adjustment, checked by hand', () => {
  it('cuts a single overloading contract to just within the limit', () => {
    // 90 000 Wh in one hour from 1 to 3 is 90 000 W; 2/3 of it (60 000 W) flows on 1-3, over its
    // 50 000 W limit. The least change keeps 50 000 / (2/3) = 75 000 Wh, less the rounding margin:
    // the LP has R = 2 bus rows + 3 line rows = 5 rows, so limits shrink by 2.5 W, giving
    // (50 000 − 2.5) · 1.5 = 74 996.25 Wh → 74 996 Wh.
    const d = decideCongestion(highs, {
      gridModel: triangle(50_000),
      interval: HOUR,
      contracts: [{ id: 'c1', sellerBus: '1', buyerBus: '3', quantityWh: 90_000 }],
      policy: minAdjustment,
    });
    expect(d.outputs.outcome).toBe('adjusted');
    expect(d.outputs.overloads).toEqual([{ line: '1-3', flowW: 60_000, limitW: 50_000 }]);
    expect(d.outputs.adjustments).toEqual([{ contract: 'c1', fromWh: 90_000, toWh: 74_996 }]);
    expect(d.outputs.weightedChangeWh).toBe(15_004);
    expect(d.outputs.flowsAfterW['1-3']).toBe(49_997); // 74 996 · 2/3 = 49 997.33
    // The binding line's shadow price: relieving 1 W costs 1.5 weight-Wh (1/PTDF), per MWh 1500.
    expect(d.outputs.lineShadowPrices).toEqual({ '1-3': 1500 });
  });

  it('cuts the contract whose weight per W of relief is lowest', () => {
    // On 1-3: contract 1→3 has PTDF 2/3, contract 2→3 has 1/3 (paths 2-3 vs 2-1-3). Relief per
    // Wh cut costs weight/PTDF: with equal weights, cutting c13 costs 1.5, c23 costs 3 → cut c13.
    // With weight 3 on c13 (class "solar"), c13 costs 4.5 > 3 → cut c23.
    const contracts: CongestionContract[] = [
      { id: 'c13', sellerBus: '1', buyerBus: '3', quantityWh: 60_000, class: 'solar' },
      { id: 'c23', sellerBus: '2', buyerBus: '3', quantityWh: 60_000 },
    ];
    // Flow on 1-3: 40 000 + 20 000 = 60 000 W, limit 54 000: 6 000 W over.
    const equal = decideCongestion(highs, {
      gridModel: triangle(54_000),
      interval: HOUR,
      contracts,
      policy: minAdjustment,
    });
    expect(equal.outputs.adjustments.map((a) => a.contract)).toEqual(['c13']);
    expect(equal.outputs.adjustments[0]?.toWh).toBe(50_996); // 60 000 − (6 000 + 2.5) · 1.5 = 50 996.25
    const weighted = decideCongestion(highs, {
      gridModel: triangle(54_000),
      interval: HOUR,
      contracts,
      policy: { method: 'min-adjustment', weights: { default: 1, byClass: { solar: 3 } } },
    });
    expect(weighted.outputs.adjustments.map((a) => a.contract)).toEqual(['c23']);
    expect(weighted.outputs.adjustments[0]?.toWh).toBe(41_993); // 60 000 − 6 002.5 · 3 = 41 992.5 → 41 993
  });

  it('with increases allowed, raises a counter-flow instead when that is cheaper', () => {
    // c31 (3→1) pushes −2/3 per Wh onto 1-3; c13 pushes +2/3. Raising c31 by 1 Wh relieves as much
    // as cutting c13 by 1 Wh; with c31's class cheaper, raising wins. Flow on 1-3: 60 000 − 8 000
    // = 52 000 W, 2 000 W over; raising c31 by (2 000 + 2.5) · 1.5 = 3 003.75 Wh (within +50 %)
    // clears it: 12 000 → 15 003.75 → 15 004 Wh, and c13 stays.
    const contracts: CongestionContract[] = [
      { id: 'c13', sellerBus: '1', buyerBus: '3', quantityWh: 90_000 },
      { id: 'c31', sellerBus: '3', buyerBus: '1', quantityWh: 12_000, class: 'flex' },
    ];
    const d = decideCongestion(highs, {
      gridModel: triangle(50_000),
      interval: HOUR,
      contracts,
      policy: {
        method: 'min-adjustment',
        weights: { default: 5, byClass: { flex: 1 } },
        allowIncrease: true,
        maxIncreasePercent: 50,
      },
    });
    expect(d.outputs.adjustments).toEqual([{ contract: 'c31', fromWh: 12_000, toWh: 15_004 }]);
    expect(d.outputs.weightedChangeWh).toBe(3_004);
    expect(Math.abs(d.outputs.flowsAfterW['1-3'] as number)).toBeLessThanOrEqual(50_000);
    // Reduce-only, the same case must cut c13 instead, at 5 weight per Wh: dearer.
    const reduceOnly = decideCongestion(highs, {
      gridModel: triangle(50_000),
      interval: HOUR,
      contracts,
      policy: { method: 'min-adjustment', weights: { default: 5, byClass: { flex: 1 } } },
    });
    expect(reduceOnly.outputs.adjustments).toEqual([{ contract: 'c13', fromWh: 90_000, toWh: 86_996 }]);
  });

  it('refuses with a clear error when firm contracts alone overload a line', () => {
    const req: CongestionRequest = {
      gridModel: triangle(50_000),
      interval: HOUR,
      contracts: [{ id: 'c1', sellerBus: '1', buyerBus: '3', quantityWh: 90_000, class: 'firm' }],
      policy: { method: 'min-adjustment', weights: { default: 1 }, firmClasses: ['firm'] },
    };
    expect(() => decideCongestion(highs, req)).toThrow(CongestionInfeasibleError);
    expect(() => decideCongestion(highs, req)).toThrow(/infeasible: no adjustment within the policy/);
    // Background flows alone over a limit: no contract change can help either.
    expect(() =>
      decideCongestion(highs, {
        ...req,
        contracts: [{ id: 'c1', sellerBus: '1', buyerBus: '3', quantityWh: 1000 }],
        backgroundInjectionsW: { '1': 90_000, '3': -90_000 },
      }),
    ).toThrow(CongestionInfeasibleError);
  });

  it('approves without solving when nothing is overloaded', () => {
    const d = decideCongestion(highs, {
      gridModel: triangle(50_000),
      interval: QUARTER,
      contracts: [{ id: 'c1', sellerBus: '1', buyerBus: '3', quantityWh: 10_000 }], // 40 000 W → 26 667 W
      policy: minAdjustment,
    });
    expect(d.outputs.outcome).toBe('approved');
    expect(d.outputs.solverStatus).toBe('not-needed');
    expect(d.outputs.flowsBeforeW['1-3']).toBe(26_667);
  });
});

/** Least weighted change over all integer quantities (brute force). */
function bruteForce(
  net: Network,
  contracts: readonly CongestionContract[],
  weights: readonly number[],
  ms: number,
  shrinkW: number,
): number {
  let best = Number.POSITIVE_INFINITY;
  const q = contracts.map(() => 0);
  const visit = (k: number, cost: number) => {
    if (cost >= best) return;
    if (k === contracts.length) {
      const f = flowsAt(net, contracts, q, ms).flows;
      const ok = net.lines.every(
        (l, i) =>
          (f[i] as number) <= l.limitFromToW - shrinkW + 1e-9 &&
          -(f[i] as number) <= l.limitToFromW - shrinkW + 1e-9,
      );
      if (ok) best = cost;
      return;
    }
    const c = contracts[k] as CongestionContract;
    for (let v = c.quantityWh; v >= 0; v--) {
      q[k] = v;
      visit(k + 1, cost + (weights[k] as number) * (c.quantityWh - v));
    }
  };
  visit(0, 0);
  return best;
}

describe('minimum adjustment is feasible and optimal', () => {
  it('brackets the brute-force integer optimum on random small cases', () => {
    const bus = fc.constantFrom('1', '2', '3', '4');
    const contract = fc.record({
      s: bus,
      b: bus,
      q: fc.integer({ min: 1, max: 14 }),
      w: fc.integer({ min: 1, max: 4 }),
    });
    fc.assert(
      fc.property(
        fc.array(contract, { minLength: 1, maxLength: 3 }),
        fc.array(fc.integer({ min: 3, max: 20 }), { minLength: 5, maxLength: 5 }),
        fc.array(fc.double({ min: 0.05, max: 0.5, noNaN: true }), { minLength: 5, maxLength: 5 }),
        (cs, limits, xs) => {
          const pairs = [
            ['1', '2'],
            ['2', '3'],
            ['3', '4'],
            ['4', '1'],
            ['1', '3'],
          ];
          const model = parseGridModel({
            name: 'ring',
            source: 'fast-check',
            baseMVA: 100,
            slack: '4',
            buses: ['1', '2', '3', '4'].map((id) => ({ id, region: 'r' })),
            lines: pairs.map(([f, t], i) => ({
              id: `${f}-${t}`,
              from: f,
              to: t,
              x: xs[i],
              limitW: limits[i],
            })),
          });
          const net = buildNetwork(model);
          const contracts = cs.map((c, i) => ({
            id: `c${i}`,
            sellerBus: c.s,
            buyerBus: c.b,
            quantityWh: c.q,
            class: `w${c.w}`,
          }));
          const weights = cs.map((c) => c.w);
          const policy = {
            method: 'min-adjustment' as const,
            weights: { default: 1, byClass: { w1: 1, w2: 2, w3: 3, w4: 4 } },
          };
          const d = decideCongestion(highs, { gridModel: model, interval: HOUR, contracts, policy });
          // Feasible: every line within its true limit at the recorded quantities.
          const q = d.inputs.contracts.map(
            (c) => d.outputs.adjustments.find((a) => a.contract === c.id)?.toWh ?? c.quantityWh,
          );
          const f = flowsAt(net, d.inputs.contracts, q, HOUR.end - HOUR.start);
          expect(f.overloads).toEqual([]);
          if (d.outputs.outcome === 'approved') return;
          // Optimal: the true integer optimum ≤ ours (ours is a feasible integer point), and ours
          // ≤ the LP optimum under the margin-tightened limits + rounding (≤ 0.5 Wh per contract).
          const rows = 3 + 5;
          const ms = HOUR.end - HOUR.start;
          const trueBest = bruteForce(net, contracts, weights, ms, 0);
          expect(d.outputs.weightedChangeWh).toBeGreaterThanOrEqual(trueBest);
          const lp = solveContractLp(highs, {
            net,
            contracts: d.inputs.contracts,
            intervalMs: ms,
            costDown: d.inputs.contracts.map((c) => Number(c.class?.slice(1))),
            costUp: d.inputs.contracts.map(() => 1),
            maxDownWh: d.inputs.contracts.map((c) => c.quantityWh),
            maxUpWh: d.inputs.contracts.map(() => 0),
          });
          expect(lp.rows).toBe(rows);
          const lpWh = lp.solution.objective * 1000;
          const tightBest = bruteForce(net, contracts, weights, ms, rows * 0.5);
          expect(lpWh).toBeLessThanOrEqual(tightBest + 1e-6);
          expect(d.outputs.weightedChangeWh).toBeLessThanOrEqual(
            lpWh + 0.5 * weights.reduce((a, b) => a + b, 0) + 1e-6,
          );
        },
      ),
      { numRuns: 40 },
    );
  });

  it('equals a dense contract-by-line formulation (CPLEX LP text) on IEEE 14-bus with 60 contracts', () => {
    // The alternative: one variable per contract, one row per line with the transfer PTDFs
    // (lines × contracts entries), no bus rows. Same optimum expected.
    const model = readGridModelFile(path.join(grids, 'ieee-14-bus.yaml'));
    const net = buildNetwork(model);
    let seed = 7;
    const rand = () => {
      seed = (seed * 48271) % 2147483647;
      return seed / 2147483647;
    };
    const buses = model.buses.map((b) => b.id);
    const contracts: CongestionContract[] = Array.from({ length: 60 }, (_, i) => ({
      id: `c${String(i).padStart(2, '0')}`,
      sellerBus: buses[Math.floor(rand() * 14)] as string,
      buyerBus: buses[Math.floor(rand() * 14)] as string,
      quantityWh: 1_000_000 + Math.floor(rand() * 4_000_000), // 4–20 MW average over 15 min
      class: rand() < 0.3 ? 'solar' : 'wind',
    }));
    const policy = {
      method: 'min-adjustment' as const,
      weights: { default: 1, byClass: { solar: 2, wind: 3 } },
    };
    const d = decideCongestion(highs, { gridModel: model, interval: QUARTER, contracts, policy });
    expect(d.outputs.outcome).toBe('adjusted');
    const ms = QUARTER.end - QUARTER.start;
    const cs = d.inputs.contracts;
    const w = cs.map((c) => (c.class === 'solar' ? 2 : 3));
    const nodal = solveContractLp(highs, {
      net,
      contracts: cs,
      intervalMs: ms,
      costDown: w,
      costUp: w,
      maxDownWh: cs.map((c) => c.quantityWh),
      maxUpWh: cs.map(() => 0),
    });
    // Dense LP in kWh per interval, with the same margin the nodal LP used.
    const margin = nodal.rows * 0.0005;
    const f0 = lineFlows(net, new Float64Array(net.busIds.length));
    expect(Array.from(f0).every((v) => v === 0)).toBe(true);
    const base = flowsAt(
      net,
      cs,
      cs.map((c) => c.quantityWh),
      ms,
    ).flows;
    const tp = cs.map((c) =>
      transferPtdf(net, net.busIndex.get(c.sellerBus) as number, net.busIndex.get(c.buyerBus) as number),
    );
    const rows = net.lines.map((l, i) => {
      const terms = cs.map((_, k) => `${-(tp[k]?.[i] as number)} d${k}`).join(' + ');
      const baseKWh = ((base[i] as number) * ms) / 3.6e9;
      const up = (l.limitFromToW * ms) / 3.6e9 - margin - baseKWh;
      const lo = -((l.limitToFromW * ms) / 3.6e9 - margin) - baseKWh;
      const expr = terms.replaceAll('+ -', '- ');
      return ` u${i}: ${expr} <= ${up}\n v${i}: ${expr} >= ${lo}`;
    });
    const text = [
      'Minimize',
      ` obj: ${cs.map((_, k) => `${w[k]} d${k}`).join(' + ')}`,
      'Subject To',
      ...rows,
      'Bounds',
      ...cs.map((c, k) => ` 0 <= d${k} <= ${c.quantityWh / 1000}`),
      'End',
    ].join('\n');
    const dense = highs.solve(text, { output_flag: false });
    expect(dense.Status).toBe('Optimal');
    expect(nodal.solution.objective).toBeCloseTo(dense.ObjectiveValue, 4);
    // And the recorded decision is that LP's rounded solution: its change is within rounding.
    const lpWh = nodal.solution.objective * 1000;
    expect(Math.abs(d.outputs.weightedChangeWh - lpWh)).toBeLessThanOrEqual(0.5 * 3 * nodal.rows + 1e-6);
  });
});

describe('congestion price', () => {
  it('refuses the contracts loading D-E (PJM 5-bus) and prices the constraint by hand', () => {
    const model = readGridModelFile(path.join(grids, 'pjm-5-bus.yaml'));
    const net = buildNetwork(model);
    const ptdf = (s: string, b: string) =>
      transferPtdf(net, net.busIndex.get(s) as number, net.busIndex.get(b) as number)[
        net.lineIndex.get('D-E') as number
      ] as number;
    // E→D, E→C and (less) A→B push flow E→D (negative on D-E, from D to E); D→E relieves it.
    expect(ptdf('E', 'D')).toBeLessThan(-0.4);
    expect(ptdf('E', 'C')).toBeLessThan(-0.3);
    const contracts: CongestionContract[] = [
      { id: 'ed', sellerBus: 'E', buyerBus: 'D', quantityWh: 100_000_000, priceMinorPerKWh: 8 }, // 400 MW
      { id: 'ec', sellerBus: 'E', buyerBus: 'C', quantityWh: 50_000_000, priceMinorPerKWh: 3 }, // 200 MW
      { id: 'de', sellerBus: 'D', buyerBus: 'E', quantityWh: 5_000_000, priceMinorPerKWh: 4 }, // counter-flow
      { id: 'ab', sellerBus: 'A', buyerBus: 'B', quantityWh: 1_000_000, priceMinorPerKWh: 4 },
    ];
    expect(ptdf('A', 'B')).toBeLessThan(-0.1);
    expect(ptdf('D', 'E')).toBeGreaterThan(0);
    const d = decideCongestion(highs, {
      gridModel: model,
      interval: QUARTER,
      contracts,
      policy: { method: 'congestion-price', weights: { default: 1 } },
    });
    expect(d.outputs.outcome).toBe('refused');
    expect(d.outputs.overloads.map((o) => o.line)).toEqual(['D-E']);
    expect(d.outputs.refused.map((r) => r.contract)).toEqual(['ab', 'ec', 'ed']);
    expect(d.outputs.refused[1]?.lines).toEqual([
      { line: 'D-E', ptdfPerMille: Math.round(ptdf('E', 'C') * 1000) },
    ]);
    // After refusal only the counter-flow remains: within limits.
    expect(Math.abs(d.outputs.flowsAfterW['D-E'] as number)).toBeLessThan(240_000_000);
    // Least-curtailment: the cheapest relief per kWh is the contract with the lowest
    // price / |PTDF|. ec: 3 / |ptdf(E,C)|, ed: 8 / |ptdf(E,D)|; ec is cut first. If cutting ec
    // entirely is not enough, ed is marginal. Either way the shadow price (minor units per MWh)
    // is 1000 · price / |PTDF| of the marginal contract, with μ < 0 (the to→from limit binds).
    const ratios = {
      ab: 4 / Math.abs(ptdf('A', 'B')),
      ec: 3 / Math.abs(ptdf('E', 'C')),
      ed: 8 / Math.abs(ptdf('E', 'D')),
    };
    expect(ratios.ec).toBeLessThan(ratios.ed);
    expect(ratios.ed).toBeLessThan(ratios.ab);
    // The overload is small (tens of MW) next to what cutting all of ec (the cheapest relief)
    // would free, so ec is cut only in part: it is the marginal contract and sets the price.
    const over = (d.outputs.overloads[0]?.flowW ?? 0) + 240_000_000;
    expect(-over).toBeLessThan(200_000_000 * Math.abs(ptdf('E', 'C')));
    const shadow = d.outputs.lineShadowPrices['D-E'] as number;
    expect(shadow).toBeLessThan(0);
    expect(-shadow).toBe(Math.round(1000 * ratios.ec));
    // The nodal congestion components price a transfer E→D at −shadow · |PTDF(E,D)| per MWh.
    const cc = d.outputs.nodalCongestion;
    expect(((cc['D'] ?? 0) - (cc['E'] ?? 0)) / 1000).toBeCloseTo(
      (-shadow / 1000) * Math.abs(ptdf('E', 'D')),
      2,
    );
    // A tolerance above |PTDF(E,C)| (in thousandths) spares ec: only ed is refused.
    const lenient = decideCongestion(highs, {
      gridModel: model,
      interval: QUARTER,
      contracts,
      policy: { method: 'congestion-price', weights: { default: 1 }, refuseTolerancePerMille: 400 },
    });
    expect(Math.abs(ptdf('E', 'C'))).toBeLessThan(0.4);
    expect(lenient.outputs.refused.map((r) => r.contract)).toEqual(['ed']);
  });
});

describe('recorded decisions recompute exactly', () => {
  const request = (): CongestionRequest => ({
    gridModel: readGridModelFile(path.join(grids, 'ieee-14-bus.yaml')),
    interval: QUARTER,
    contracts: [
      { id: 'b', sellerBus: '1', buyerBus: '14', quantityWh: 30_000_000, class: 'solar' },
      { id: 'a', sellerBus: '2', buyerBus: '13', quantityWh: 25_000_000 },
      { id: 'c', sellerBus: '3', buyerBus: '1', quantityWh: 5_000_000 },
    ],
    policy: { method: 'min-adjustment', weights: { default: 2, byClass: { solar: 1 } } },
  });

  it('recompute gives the same canonical outputs; order of contracts does not matter', () => {
    const d = decideCongestion(highs, request());
    expect(d.outputs.outcome).toBe('adjusted');
    expect(verifyDecision(highs, d)).toEqual({ ok: true });
    expect(JSON.stringify(recompute(highs, JSON.parse(JSON.stringify(d.inputs))))).toBe(
      JSON.stringify(d.outputs),
    );
    const shuffled = decideCongestion(highs, { ...request(), contracts: [...request().contracts].reverse() });
    expect(shuffled.inputsHash).toBe(d.inputsHash);
    expect(shuffled.outputs).toEqual(d.outputs);
    expect(d.inputs.contracts.map((c) => c.id)).toEqual(['a', 'b', 'c']);
  });

  it('detects altered outputs, altered inputs and an altered grid model', () => {
    const d = decideCongestion(highs, request());
    const outputs = structuredClone(d.outputs);
    const first = outputs.adjustments[0];
    if (first === undefined) throw new Error('expected an adjustment');
    first.toWh += 1;
    expect(verifyDecision(highs, { ...d, outputs })).toEqual({
      ok: false,
      reason: 'recomputed outputs differ from the recorded outputs',
    });
    const inputs = structuredClone(d.inputs);
    (inputs.contracts[0] as { quantityWh: number }).quantityWh += 1;
    expect(verifyDecision(highs, { ...d, inputs })).toMatchObject({ ok: false, reason: /inputsHash is/ });
    // A model edited after the fact no longer matches the recorded grid model hash, even when the
    // inputs hash is recomputed to match.
    const edited = structuredClone(d.inputs);
    ((edited.gridModel as GridModel).lines[0] as { x: number }).x = 0.06;
    const r = verifyDecision(highs, { ...d, inputs: edited, inputsHash: canonicalHash(edited) });
    expect(r).toMatchObject({ ok: false, reason: /gridModelHash: .* the model was altered/ });
  });

  it('names the bad field in bad inputs', () => {
    const req = request();
    expect(() =>
      congestionInputs(highs, {
        ...req,
        contracts: [{ id: 'x', sellerBus: '99', buyerBus: '1', quantityWh: 5 }],
      }),
    ).toThrow(/contracts\[0\]\.sellerBus: bus "99" is not in grid model "ieee-14-bus"/);
    expect(() =>
      congestionInputs(highs, {
        ...req,
        contracts: [{ id: 'x', sellerBus: '2', buyerBus: '1', quantityWh: 1.5 }],
      }),
    ).toThrow(CongestionInputError);
    expect(() =>
      congestionInputs(highs, { ...req, interval: { start: QUARTER.end, end: QUARTER.start } }),
    ).toThrow(/interval.end: must be after interval.start/);
  });
});

import { canonicalHashB64url as canonicalHash } from './canonical.js';
