// The two contract LPs behind the congestion methods. Both share one sparse formulation:
//
//   variables  down_c ≥ 0, up_c ≥ 0      reduction / increase of contract c, kWh per interval
//              p_n (free)                net injection at bus n ≠ slack, kWh per interval
//   minimise   Σ_c costDown_c·down_c + costUp_c·up_c
//   subject to p_n + Σ_{c sells at n}(down_c − up_c) − Σ_{c buys at n}(down_c − up_c) = base_n
//              −(limitToFrom_l − m) ≤ Σ_n PTDF[l][n]·p_n ≤ limitFromTo_l − m     (limited lines)
//              0 ≤ down_c ≤ maxDown_c,  0 ≤ up_c ≤ maxUp_c
//
// where base_n is the injection at the contracted quantities plus background. Summing the
// contracts into bus injections keeps the matrix sparse (2·contracts + lines·buses entries instead
// of lines·contracts), so 10 000 contracts on the 118-bus grid is a small LP.
//
// m is the rounding margin: adjusted quantities are rounded to whole Wh afterwards. A simplex
// (vertex) solution has at most one basic variable per row, so at most R = rows contract
// variables are fractional; rounding each moves it by ≤ 0.5 Wh and moves any line's flow by ≤
// 0.5 Wh (a transfer's PTDF is at most 1 in magnitude). Tightening every limit by m = 0.5·R Wh
// per interval therefore keeps the rounded quantities within the true limits; `checkRounded`
// proves it for each decision anyway.
//
// Duals: HiGHS reports rowDual = ∂objective/∂(active row bound). For line l we publish
// μ_l = −rowDual_l: positive when the from→to limit binds (more capacity would lower the
// objective), negative when the to→from limit binds. The congestion component of bus n's price
// (its price less the slack's) is then −Σ_l μ_l·PTDF[l][n].

import { type CongestionContract, injectionsW, wToKWhPerInterval } from './contracts.js';
import { lineFlows, type Network, overloads } from './dc-flow.js';
import { type Highs, type LinearProgram, type LpSolution, RowBuilder, solveLp } from './lp.js';

export interface ContractLpInput {
  net: Network;
  contracts: readonly CongestionContract[];
  intervalMs: number;
  backgroundW?: Readonly<Record<string, number>>;
  /** Cost per kWh of reducing / increasing each contract (same order as contracts). */
  costDown: readonly number[];
  costUp: readonly number[];
  /** Most each contract may be reduced / increased, Wh. */
  maxDownWh: readonly number[];
  maxUpWh: readonly number[];
}

export class CongestionInfeasibleError extends Error {
  constructor(
    readonly status: string,
    detail: string,
  ) {
    super(`congestion LP is ${status}: ${detail}`);
    this.name = 'CongestionInfeasibleError';
  }
}

export interface ContractLpResult {
  solution: LpSolution;
  /** Adjusted quantity per contract, Wh, rounded to whole Wh (half up), within its bounds. */
  adjustedWh: number[];
  /** μ_l per line (0 for unlimited lines), objective units per kWh per interval. */
  lineMu: Float64Array;
  /** Rows in the LP (the rounding margin's R). */
  rows: number;
  /** The margin the limits were tightened by, W. */
  marginW: number;
}

/** Rounds half up (toward +∞) and turns −0 into 0. */
export function roundHalfUp(v: number): number {
  return Math.round(v) + 0;
}

export function solveContractLp(highs: Highs, input: ContractLpInput): ContractLpResult {
  const { net, contracts, intervalMs } = input;
  const nBus = net.busIds.length;
  const nC = contracts.length;
  const busRow = new Int32Array(nBus).fill(-1);
  const nonSlack: number[] = [];
  for (let i = 0; i < nBus; i++) if (i !== net.slack) nonSlack.push(i);
  const limited = net.lines
    .map((l, i) => ({ l, i }))
    .filter(({ l }) => Number.isFinite(l.limitFromToW) || Number.isFinite(l.limitToFromW));
  const rows = nonSlack.length + limited.length;
  // Rounding margin, kWh per interval: 0.5 Wh per possibly fractional variable (see above).
  const marginKWh = (0.5 * rows) / 1000;

  // Columns: down_c (0..nC-1), up_c (nC..2nC-1), p_n (2nC..).
  const nCols = 2 * nC + nonSlack.length;
  const colCost = new Float64Array(nCols);
  const colLower = new Float64Array(nCols);
  const colUpper = new Float64Array(nCols);
  for (let c = 0; c < nC; c++) {
    colCost[c] = input.costDown[c] as number;
    colCost[nC + c] = input.costUp[c] as number;
    colUpper[c] = (input.maxDownWh[c] as number) / 1000;
    colUpper[nC + c] = (input.maxUpWh[c] as number) / 1000;
  }
  const pCol = (k: number) => 2 * nC + k;
  for (let k = 0; k < nonSlack.length; k++) {
    colLower[pCol(k)] = Number.NEGATIVE_INFINITY;
    colUpper[pCol(k)] = Number.POSITIVE_INFINITY;
  }

  // Bus rows: collect the contracts touching each bus, in contract order.
  const base = injectionsW(
    net,
    contracts,
    contracts.map((c) => c.quantityWh),
    intervalMs,
    input.backgroundW,
  );
  const touching: { col: number; sign: number }[][] = net.busIds.map(() => []);
  contracts.forEach((c, k) => {
    const s = net.busIndex.get(c.sellerBus) as number;
    const b = net.busIndex.get(c.buyerBus) as number;
    if (s === b) return; // delivers within one bus: no line sees it
    // Reducing the contract lowers the seller's injection and raises the buyer's.
    touching[s]?.push({ col: k, sign: 1 }, { col: nC + k, sign: -1 });
    touching[b]?.push({ col: k, sign: -1 }, { col: nC + k, sign: 1 });
  });
  const rb = new RowBuilder();
  nonSlack.forEach((bus, k) => {
    const cols = [pCol(k)];
    const vals = [1];
    for (const t of touching[bus] ?? []) {
      cols.push(t.col);
      vals.push(t.sign);
    }
    const rhs = wToKWhPerInterval(base[bus] as number, intervalMs);
    busRow[bus] = rb.add(cols, vals, rhs, rhs);
  });
  const lineRow = new Int32Array(net.lines.length).fill(-1);
  for (const { l, i } of limited) {
    const cols: number[] = [];
    const vals: number[] = [];
    nonSlack.forEach((bus, k) => {
      cols.push(pCol(k));
      vals.push(net.ptdf[i * nBus + bus] as number);
    });
    const up = Number.isFinite(l.limitFromToW)
      ? Math.max(0, wToKWhPerInterval(l.limitFromToW, intervalMs) - marginKWh)
      : Number.POSITIVE_INFINITY;
    const lo = Number.isFinite(l.limitToFromW)
      ? -Math.max(0, wToKWhPerInterval(l.limitToFromW, intervalMs) - marginKWh)
      : Number.NEGATIVE_INFINITY;
    lineRow[i] = rb.add(cols, vals, lo, up);
  }
  const lp: LinearProgram = { sense: 'minimize', colCost, colLower, colUpper, ...rb.build() };
  const solution = solveLp(highs, lp);
  if (solution.status !== 'optimal')
    throw new CongestionInfeasibleError(
      solution.status,
      solution.status === 'infeasible'
        ? 'no adjustment within the policy keeps every line within its limit (firm contracts or background flows alone overload a line)'
        : `HiGHS model status ${solution.modelStatus}`,
    );
  const adjustedWh = contracts.map((c, k) => {
    const a = c.quantityWh - (solution.x[k] as number) * 1000 + (solution.x[nC + k] as number) * 1000;
    const lo = c.quantityWh - (input.maxDownWh[k] as number);
    const hi = c.quantityWh + (input.maxUpWh[k] as number);
    return Math.min(hi, Math.max(lo, roundHalfUp(a)));
  });
  const lineMu = new Float64Array(net.lines.length);
  lineRow.forEach((r, i) => {
    if (r >= 0) lineMu[i] = -(solution.rowDual[r] as number) + 0;
  });
  return { solution, adjustedWh, lineMu, rows, marginW: (marginKWh * 3_600_000_000) / intervalMs };
}

/** Flows (W) at given quantities, and the lines still over their limits. */
export function flowsAt(
  net: Network,
  contracts: readonly CongestionContract[],
  quantitiesWh: ArrayLike<number>,
  intervalMs: number,
  backgroundW?: Readonly<Record<string, number>>,
) {
  const flows = lineFlows(net, injectionsW(net, contracts, quantitiesWh, intervalMs, backgroundW));
  return { flows, overloads: overloads(net, flows) };
}

/** Congestion component of each bus's price: −Σ_l μ_l·PTDF[l][n] (objective units per kWh). */
export function nodalCongestion(net: Network, lineMu: ArrayLike<number>): Float64Array {
  const n = net.busIds.length;
  const out = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    let s = 0;
    for (let l = 0; l < net.lines.length; l++) {
      const mu = lineMu[l] as number;
      if (mu !== 0) s -= mu * (net.ptdf[l * n + j] as number);
    }
    out[j] = s + 0;
  }
  return out;
}
