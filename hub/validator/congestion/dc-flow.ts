// DC power flow: lossless, flat voltages, small angles, so the flow on a line is the angle
// difference over its reactance and everything is linear in the bus injections. The power
// transfer distribution factor PTDF[l][n] is the flow on line l (positive from→to) caused by
// injecting 1 W at bus n and withdrawing it at the slack bus. The slack's column is zero.
//
//   B = Aᵀ·diag(b)·A              (bus susceptance matrix; A = line × bus incidence, +1 from, −1 to)
//   PTDF = diag(b)·A·B_red⁻¹      (B_red: B without the slack's row and column; slack column 0)
//
// with b = 1/(x·tap) per unit. PTDF is dimensionless, so injections and flows share one unit (W).
import { type GridModel, lineLimitsW, lineReactancePu } from './grid-model.js';
import { invert } from './lu.js';

export interface NetworkLine {
  id: string;
  from: number;
  to: number;
  /** Series susceptance 1/(x·tap), per unit. */
  b: number;
  /** Limits in W; Infinity where unlimited. */
  limitFromToW: number;
  limitToFromW: number;
}

export interface Network {
  busIds: readonly string[];
  busIndex: ReadonlyMap<string, number>;
  slack: number;
  lines: readonly NetworkLine[];
  lineIndex: ReadonlyMap<string, number>;
  /** lines × buses, row-major: ptdf[l * buses + n]. */
  ptdf: Float64Array;
}

/** Builds the network matrices of a checked grid model. Buses and lines keep the file's order. */
export function buildNetwork(model: GridModel): Network {
  const busIds = model.buses.map((b) => b.id);
  const busIndex = new Map(busIds.map((id, i) => [id, i]));
  const n = busIds.length;
  const slack = busIndex.get(model.slack) as number;
  const lines: NetworkLine[] = model.lines.map((l) => {
    const limits = lineLimitsW(l);
    return {
      id: l.id,
      from: busIndex.get(l.from) as number,
      to: busIndex.get(l.to) as number,
      b: 1 / lineReactancePu(model, l),
      limitFromToW: limits.fromTo,
      limitToFromW: limits.toFrom,
    };
  });
  const lineIndex = new Map(lines.map((l, i) => [l.id, i]));

  // Reduced bus order: every bus but the slack, in file order.
  const red = new Int32Array(n).fill(-1);
  let k = 0;
  for (let i = 0; i < n; i++) if (i !== slack) red[i] = k++;
  const m = n - 1;
  const bRed = new Float64Array(m * m);
  for (const l of lines) {
    const f = red[l.from] as number;
    const t = red[l.to] as number;
    if (f >= 0) bRed[f * m + f] = (bRed[f * m + f] as number) + l.b;
    if (t >= 0) bRed[t * m + t] = (bRed[t * m + t] as number) + l.b;
    if (f >= 0 && t >= 0) {
      bRed[f * m + t] = (bRed[f * m + t] as number) - l.b;
      bRed[t * m + f] = (bRed[t * m + f] as number) - l.b;
    }
  }
  const x = invert(bRed, m);
  const ptdf = new Float64Array(lines.length * n);
  lines.forEach((l, li) => {
    const f = red[l.from] as number;
    const t = red[l.to] as number;
    for (let j = 0; j < n; j++) {
      const c = red[j] as number;
      if (c < 0) continue;
      const xf = f >= 0 ? (x[f * m + c] as number) : 0;
      const xt = t >= 0 ? (x[t * m + c] as number) : 0;
      ptdf[li * n + j] = l.b * (xf - xt);
    }
  });
  return { busIds, busIndex, slack, lines, lineIndex, ptdf };
}

/** PTDF of one line for one bus. */
export function ptdfAt(net: Network, line: number, bus: number): number {
  return net.ptdf[line * net.busIds.length + bus] as number;
}

/**
 * The PTDF of a transfer: the flow on each line per W sold at `seller` and bought at `buyer`
 * (injected at the seller's bus, withdrawn at the buyer's). Independent of the slack choice.
 */
export function transferPtdf(net: Network, seller: number, buyer: number): Float64Array {
  const n = net.busIds.length;
  const out = new Float64Array(net.lines.length);
  for (let l = 0; l < out.length; l++)
    out[l] = (net.ptdf[l * n + seller] as number) - (net.ptdf[l * n + buyer] as number);
  return out;
}

/** Line flows (W, positive from→to) for net bus injections (W); the slack takes the imbalance. */
export function lineFlows(net: Network, injections: ArrayLike<number>): Float64Array {
  const n = net.busIds.length;
  if (injections.length !== n) throw new RangeError(`expected ${n} bus injections, got ${injections.length}`);
  const flows = new Float64Array(net.lines.length);
  for (let l = 0; l < flows.length; l++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += (net.ptdf[l * n + j] as number) * (injections[j] as number);
    flows[l] = s;
  }
  return flows;
}

/** Net injection at each bus implied by line flows: Σ out − Σ in (W). Used to check conservation. */
export function busBalance(net: Network, flows: ArrayLike<number>): Float64Array {
  const out = new Float64Array(net.busIds.length);
  net.lines.forEach((l, i) => {
    const f = flows[i] as number;
    out[l.from] = (out[l.from] as number) + f;
    out[l.to] = (out[l.to] as number) - f;
  });
  return out;
}

export interface LineOverload {
  line: string;
  /** Flow in W, positive from→to. */
  flowW: number;
  /** The limit in the flow's direction, W. */
  limitW: number;
  /** +1 when from→to is over its limit, −1 when to→from is. */
  direction: 1 | -1;
}

/** Lines whose |flow| exceeds the limit in the flow's direction, in line order. */
export function overloads(net: Network, flows: ArrayLike<number>, toleranceW = 0): LineOverload[] {
  const out: LineOverload[] = [];
  net.lines.forEach((l, i) => {
    const f = flows[i] as number;
    if (f > l.limitFromToW + toleranceW)
      out.push({ line: l.id, flowW: f, limitW: l.limitFromToW, direction: 1 });
    else if (-f > l.limitToFromW + toleranceW)
      out.push({ line: l.id, flowW: f, limitW: l.limitToFromW, direction: -1 });
  });
  return out;
}
