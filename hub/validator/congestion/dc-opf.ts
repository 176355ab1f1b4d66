// Economic dispatch on the DC network (DC optimal power flow) and the locational marginal prices
// it implies. Used for the published test cases (PJM 5-bus) and for nodal prices where generator
// offers exist.
//
//   variables  g_i ∈ [minW_i, maxW_i]                          (MW)
//   minimise   Σ_i price_i · g_i                               (minor units per hour)
//   subject to Σ_i g_i = Σ_n d_n                               dual λ
//              −F⁻_l ≤ Σ_n PTDF[l][n]·(G_n − d_n) ≤ F⁺_l        dual y_l, μ_l = −y_l
//
// with G_n the generation at bus n. HiGHS's row duals are ∂cost/∂(active bound), so λ is the
// cost of serving 1 MW more load at the slack bus, and the LMP of bus n, ∂cost/∂d_n, is
//
//   LMP_n = λ − Σ_l μ_l · PTDF[l][n]          (minor units per MWh)
//
// μ_l > 0 when line l is at its from→to limit, < 0 at its to→from limit; the slack's LMP is λ.
import type { Network } from './dc-flow.js';
import type { GridModel } from './grid-model.js';
import { type Highs, type LpStatus, RowBuilder, solveLp } from './lp.js';
import { CongestionInfeasibleError } from './redispatch.js';

export interface DcOpfResult {
  status: LpStatus;
  /** Cost, minor units per hour. */
  costMinorPerHour: number;
  /** Generation per generator id, W (float; round for a record). */
  dispatchW: Record<string, number>;
  /** Energy price at the slack bus, minor units per MWh. */
  lambda: number;
  /** μ_l per line id (0 when not binding), minor units per MWh per MW of capacity. */
  lineMu: Record<string, number>;
  /** LMP per bus id, minor units per MWh. */
  lmp: Record<string, number>;
  /** Line flows at the dispatch, W. */
  flowsW: Record<string, number>;
}

const MW = 1e6;

/** Solves the DC-OPF of the model's generators and loads. Throws CongestionInfeasibleError. */
export function solveDcOpf(highs: Highs, model: GridModel, net: Network): DcOpfResult {
  const n = net.busIds.length;
  const gens = model.generators;
  if (gens.length === 0) throw new Error(`grid model "${model.name}" has no generators; add \`generators\``);
  const load = new Float64Array(n);
  for (const l of model.loads) {
    const i = net.busIndex.get(l.bus) as number;
    load[i] = (load[i] as number) + l.W / MW;
  }
  const totalLoad = load.reduce((a, b) => a + b, 0);
  const genBus = gens.map((g) => net.busIndex.get(g.bus) as number);
  const rb = new RowBuilder();
  const allCols = gens.map((_, i) => i);
  const balanceRow = rb.add(
    allCols,
    gens.map(() => 1),
    totalLoad,
    totalLoad,
  );
  const lineRow = new Int32Array(net.lines.length).fill(-1);
  net.lines.forEach((l, li) => {
    if (!Number.isFinite(l.limitFromToW) && !Number.isFinite(l.limitToFromW)) return;
    let loadFlow = 0;
    for (let j = 0; j < n; j++) loadFlow += (net.ptdf[li * n + j] as number) * (load[j] as number);
    // Several generators at one bus share a PTDF; each is its own column.
    const vals = genBus.map((b) => net.ptdf[li * n + b] as number);
    lineRow[li] = rb.add(allCols, vals, -l.limitToFromW / MW + loadFlow, l.limitFromToW / MW + loadFlow);
  });
  const solution = solveLp(highs, {
    sense: 'minimize',
    colCost: Float64Array.from(gens.map((g) => g.priceMinorPerMWh)),
    colLower: Float64Array.from(gens.map((g) => g.minW / MW)),
    colUpper: Float64Array.from(gens.map((g) => g.maxW / MW)),
    ...rb.build(),
  });
  if (solution.status !== 'optimal')
    throw new CongestionInfeasibleError(
      solution.status,
      solution.status === 'infeasible'
        ? 'the generators cannot serve the load within the line limits'
        : `HiGHS model status ${solution.modelStatus}`,
    );
  const lambda = (solution.rowDual[balanceRow] as number) + 0;
  const mu = new Float64Array(net.lines.length);
  lineRow.forEach((r, li) => {
    if (r >= 0) mu[li] = -(solution.rowDual[r] as number) + 0;
  });
  const lmp: Record<string, number> = {};
  net.busIds.forEach((id, j) => {
    let s = lambda;
    for (let l = 0; l < net.lines.length; l++)
      if (mu[l] !== 0) s -= (mu[l] as number) * (net.ptdf[l * n + j] as number);
    lmp[id] = s;
  });
  const inj = new Float64Array(n);
  for (let j = 0; j < n; j++) inj[j] = -(load[j] as number);
  gens.forEach((_, i) => {
    const b = genBus[i] as number;
    inj[b] = (inj[b] as number) + (solution.x[i] as number);
  });
  const flowsW: Record<string, number> = {};
  net.lines.forEach((l, li) => {
    let f = 0;
    for (let j = 0; j < n; j++) f += (net.ptdf[li * n + j] as number) * (inj[j] as number);
    flowsW[l.id] = f * MW;
  });
  return {
    status: solution.status,
    costMinorPerHour: solution.objective,
    dispatchW: Object.fromEntries(gens.map((g, i) => [g.id, (solution.x[i] as number) * MW])),
    lambda,
    lineMu: Object.fromEntries(net.lines.map((l, i) => [l.id, mu[i] as number])),
    lmp,
    flowsW,
  };
}
