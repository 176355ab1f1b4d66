// A congestion decision for one settlement interval: its inputs (grid model and its hash, the
// approved contracts, background injections, the policy, the solver build) and its outputs, both
// as canonical JSON with integers only. `recompute(highs, inputs)` is a pure function of the
// inputs (and the HiGHS build named in them) that gives the same outputs byte for byte, which is
// what `wattproof-hub verify` checks.
//
// Rounding rules (all half up, toward +∞): flows to whole W; adjusted quantities to whole Wh
// (see redispatch.ts for why the rounded quantities still respect every limit); prices and
// shadow prices to whole minor units per MWh.
import { z } from 'zod';
import { canonicalHashB64url, canonicalText } from './canonical.js';
import { averageW, type CongestionContract, type SettlementInterval } from './contracts.js';
import { buildNetwork, type Network, transferPtdf } from './dc-flow.js';
import { type GridModel, gridModelHash, parseGridModel } from './grid-model.js';
import { type Highs, solverVersion } from './lp.js';
import { flowsAt, nodalCongestion, roundHalfUp, solveContractLp } from './redispatch.js';

const safeInt = z.int().min(Number.MIN_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER);
const id = z.string().min(1).max(200);

export const congestionPolicySchema = z.strictObject({
  /** "congestion-price": refuse the contracts that load an overloaded line and publish its shadow
   * price; "min-adjustment": change contracted quantities as little as possible. */
  method: z.enum(['congestion-price', 'min-adjustment']),
  /** Weight per kWh changed, by contract class; `default` for the rest. Integers ≥ 1. */
  weights: z.strictObject({
    default: z.int().min(1).max(1_000_000),
    byClass: z.record(id, z.int().min(1).max(1_000_000)).default({}),
  }),
  /** min-adjustment: may quantities also go up (counter-flows relieve lines)? */
  allowIncrease: z.boolean().default(false),
  /** min-adjustment with allowIncrease: largest increase, percent of the contracted quantity. */
  maxIncreasePercent: z.int().min(0).max(1000).default(0),
  /** Classes whose contracts are never adjusted. */
  firmClasses: z.array(id).default([]),
  /** congestion-price: a contract loads a line when its transfer PTDF on it, in the overload's
   * direction, is above this many thousandths. */
  refuseTolerancePerMille: z.int().min(0).max(1000).default(10),
});
export type CongestionPolicy = z.output<typeof congestionPolicySchema>;

const contractSchema = z.strictObject({
  id,
  sellerBus: id,
  buyerBus: id,
  quantityWh: z.int().positive().max(Number.MAX_SAFE_INTEGER),
  priceMinorPerKWh: z.int().nonnegative().max(1_000_000_000).optional(),
  class: id.optional(),
});

const inputsSchema = z.strictObject({
  kind: z.literal('wattproof.congestion-inputs.v1'),
  gridModelHash: z.string().regex(/^[0-9a-f]{64}$/, 'must be a SHA-256 hash in lowercase hex'),
  gridModel: z.unknown(),
  interval: z.strictObject({ start: safeInt.nonnegative(), end: safeInt.nonnegative() }),
  contracts: z.array(contractSchema).max(1_000_000),
  backgroundInjectionsW: z.record(id, safeInt).default({}),
  policy: congestionPolicySchema,
  /** The HiGHS build that made the decision; recompute needs the same one for byte equality. */
  solver: z.string().min(1),
});
export type CongestionInputs = z.output<typeof inputsSchema>;

export class CongestionInputError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid congestion inputs:\n  - ${problems.join('\n  - ')}`);
    this.name = 'CongestionInputError';
  }
}

export interface LineFlowRecord {
  line: string;
  flowW: number;
  limitW: number;
}

export interface CongestionOutputs {
  method: CongestionPolicy['method'];
  /** approved: no line overloaded; adjusted: quantities changed; refused: contracts refused. */
  outcome: 'approved' | 'adjusted' | 'refused';
  /** Flows before any change, W, per line id. */
  flowsBeforeW: Record<string, number>;
  /** Overloaded lines before any change (|flow| over the limit in its direction). */
  overloads: LineFlowRecord[];
  /** min-adjustment: every changed contract, by id. */
  adjustments: { contract: string; fromWh: number; toWh: number }[];
  /** min-adjustment: Σ weight·|change| over contracts, weight·Wh. */
  weightedChangeWh: number;
  /** congestion-price: the refused contracts and the overloaded lines each one loads. */
  refused: { contract: string; lines: { line: string; ptdfPerMille: number }[] }[];
  /** Flows after adjustment or refusal, W. */
  flowsAfterW: Record<string, number>;
  /** Shadow price of each binding line limit (non-zero only), signed as μ (+ from→to). For
   * congestion-price in minor units per MWh; for min-adjustment in weight per MWh. */
  lineShadowPrices: Record<string, number>;
  /** Congestion component of each bus's price (price less the slack's), same unit as above. */
  nodalCongestion: Record<string, number>;
  /** The LP's status ("not-needed" when nothing was overloaded). */
  solverStatus: string;
}

export interface CongestionDecision {
  inputs: CongestionInputs;
  /** base64url SHA-256 of the inputs' canonical JSON: the `inputsHash` of the signed decision. */
  inputsHash: string;
  outputs: CongestionOutputs;
}

export interface CongestionRequest {
  gridModel: GridModel;
  interval: SettlementInterval;
  contracts: readonly CongestionContract[];
  backgroundInjectionsW?: Readonly<Record<string, number>>;
  policy: z.input<typeof congestionPolicySchema>;
}

function checked(raw: unknown): { inputs: CongestionInputs; model: GridModel; net: Network } {
  const r = inputsSchema.safeParse(raw);
  if (!r.success)
    throw new CongestionInputError(
      r.error.issues.map((i) => `${i.path.join('.') || '(inputs)'}: ${i.message}`),
    );
  const inputs = r.data;
  const model = parseGridModel(inputs.gridModel, 'inputs.gridModel');
  const problems: string[] = [];
  const hash = gridModelHash(model);
  if (hash !== inputs.gridModelHash)
    problems.push(
      `gridModelHash: is ${inputs.gridModelHash} but the model hashes to ${hash}; the model was altered`,
    );
  if (inputs.interval.end <= inputs.interval.start)
    problems.push('interval.end: must be after interval.start');
  const net = buildNetwork(model);
  const seen = new Set<string>();
  inputs.contracts.forEach((c, i) => {
    if (seen.has(c.id)) problems.push(`contracts[${i}].id: "${c.id}" appears twice; each contract once`);
    seen.add(c.id);
    if (i > 0 && (inputs.contracts[i - 1]?.id ?? '') > c.id)
      problems.push(
        `contracts[${i}].id: contracts must be sorted by id (use congestionInputs to build inputs)`,
      );
    for (const side of ['sellerBus', 'buyerBus'] as const)
      if (!net.busIndex.has(c[side]))
        problems.push(`contracts[${i}].${side}: bus "${c[side]}" is not in grid model "${model.name}"`);
  });
  for (const bus of Object.keys(inputs.backgroundInjectionsW))
    if (!net.busIndex.has(bus))
      problems.push(`backgroundInjectionsW.${bus}: not a bus of grid model "${model.name}"`);
  if (problems.length > 0) throw new CongestionInputError(problems);
  return { inputs, model, net };
}

/** Builds checked, canonical inputs: contracts sorted by id, defaults filled, hash computed. */
export function congestionInputs(highs: Highs, req: CongestionRequest): CongestionInputs {
  const contracts = [...req.contracts]
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((c) => ({ ...c }));
  const raw = {
    kind: 'wattproof.congestion-inputs.v1' as const,
    gridModelHash: gridModelHash(req.gridModel),
    gridModel: req.gridModel,
    interval: { start: req.interval.start, end: req.interval.end },
    contracts,
    backgroundInjectionsW: { ...(req.backgroundInjectionsW ?? {}) },
    policy: req.policy,
    solver: solverVersion(highs),
  };
  return checked(JSON.parse(canonicalText(raw))).inputs;
}

function weightOf(policy: CongestionPolicy, c: CongestionContract): number {
  return (c.class !== undefined ? policy.weights.byClass[c.class] : undefined) ?? policy.weights.default;
}

function flowRecord(net: Network, flows: ArrayLike<number>): Record<string, number> {
  return Object.fromEntries(net.lines.map((l, i) => [l.id, roundHalfUp(flows[i] as number)]));
}

function perMWh(perKWh: ArrayLike<number>, ids: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  ids.forEach((id, i) => {
    const v = roundHalfUp((perKWh[i] as number) * 1000);
    if (v !== 0) out[id] = v;
  });
  return out;
}

/**
 * The decision's outputs, recomputed from its inputs. Pure: the same inputs and HiGHS build give
 * the same canonical JSON. Throws CongestionInputError for bad inputs and
 * CongestionInfeasibleError when no adjustment within the policy clears the overloads.
 */
export function recompute(highs: Highs, rawInputs: unknown): CongestionOutputs {
  const { inputs, net } = checked(rawInputs);
  const ms = inputs.interval.end - inputs.interval.start;
  const { contracts, policy } = inputs;
  const bg = inputs.backgroundInjectionsW;
  const original = contracts.map((c) => c.quantityWh);
  const before = flowsAt(net, contracts, original, ms, bg);
  const out: CongestionOutputs = {
    method: policy.method,
    outcome: 'approved',
    flowsBeforeW: flowRecord(net, before.flows),
    overloads: before.overloads.map((o) => ({
      line: o.line,
      flowW: roundHalfUp(o.flowW),
      limitW: o.limitW,
    })),
    adjustments: [],
    weightedChangeWh: 0,
    refused: [],
    flowsAfterW: flowRecord(net, before.flows),
    lineShadowPrices: {},
    nodalCongestion: {},
    solverStatus: 'not-needed',
  };
  if (before.overloads.length === 0) return out;

  const lineIds = net.lines.map((l) => l.id);
  if (policy.method === 'min-adjustment') {
    const firm = new Set(policy.firmClasses);
    const isFirm = (c: CongestionContract) => c.class !== undefined && firm.has(c.class);
    const r = solveContractLp(highs, {
      net,
      contracts,
      intervalMs: ms,
      backgroundW: bg,
      costDown: contracts.map((c) => weightOf(policy, c)),
      costUp: contracts.map((c) => weightOf(policy, c)),
      maxDownWh: contracts.map((c) => (isFirm(c) ? 0 : c.quantityWh)),
      maxUpWh: contracts.map((c) =>
        isFirm(c) || !policy.allowIncrease ? 0 : Math.floor((c.quantityWh * policy.maxIncreasePercent) / 100),
      ),
    });
    const after = checkRounded(net, contracts, r.adjustedWh, ms, bg);
    out.outcome = 'adjusted';
    out.solverStatus = r.solution.status;
    contracts.forEach((c, k) => {
      const to = r.adjustedWh[k] as number;
      if (to !== c.quantityWh) {
        out.adjustments.push({ contract: c.id, fromWh: c.quantityWh, toWh: to });
        out.weightedChangeWh += weightOf(policy, c) * Math.abs(to - c.quantityWh);
      }
    });
    out.flowsAfterW = flowRecord(net, after);
    out.lineShadowPrices = perMWh(r.lineMu, lineIds);
    out.nodalCongestion = perMWh(nodalCongestion(net, r.lineMu), net.busIds);
    return out;
  }

  // Congestion price: refuse every contract that loads an overloaded line in the overload's
  // direction; price the constraint with the least-curtailment LP (contract value = its price).
  const tol = policy.refuseTolerancePerMille / 1000;
  const keep = new Uint8Array(contracts.length);
  contracts.forEach((c, k) => {
    const t = transferPtdf(
      net,
      net.busIndex.get(c.sellerBus) as number,
      net.busIndex.get(c.buyerBus) as number,
    );
    const lines = before.overloads
      .map((o) => ({ o, p: t[net.lineIndex.get(o.line) as number] as number }))
      .filter(({ o, p }) => o.direction * p > tol)
      .map(({ o, p }) => ({ line: o.line, ptdfPerMille: roundHalfUp(p * 1000) }));
    if (lines.length > 0) out.refused.push({ contract: c.id, lines });
    else keep[k] = 1;
  });
  const r = solveContractLp(highs, {
    net,
    contracts,
    intervalMs: ms,
    backgroundW: bg,
    costDown: contracts.map((c) => c.priceMinorPerKWh ?? weightOf(policy, c)),
    costUp: contracts.map(() => 0),
    maxDownWh: contracts.map((c) => c.quantityWh),
    maxUpWh: contracts.map(() => 0),
  });
  out.outcome = 'refused';
  out.solverStatus = r.solution.status;
  const remaining = contracts.map((c, k) => (keep[k] === 1 ? c.quantityWh : 0));
  out.flowsAfterW = flowRecord(net, flowsAt(net, contracts, remaining, ms, bg).flows);
  out.lineShadowPrices = perMWh(r.lineMu, lineIds);
  out.nodalCongestion = perMWh(nodalCongestion(net, r.lineMu), net.busIds);
  return out;
}

/** Flows at the rounded quantities; throws if rounding broke a limit (the margin should prevent it). */
function checkRounded(
  net: Network,
  contracts: readonly CongestionContract[],
  quantitiesWh: readonly number[],
  ms: number,
  bg: Readonly<Record<string, number>>,
): Float64Array {
  const r = flowsAt(net, contracts, quantitiesWh, ms, bg);
  const o = r.overloads[0];
  if (o !== undefined)
    throw new Error(
      `rounded adjustment leaves line ${o.line} at ${o.flowW} W over its ${o.limitW} W limit; report this as a bug`,
    );
  return r.flows;
}

/** Makes a decision: canonical inputs, their hash, and the outputs. */
export function decideCongestion(highs: Highs, req: CongestionRequest): CongestionDecision {
  const inputs = congestionInputs(highs, req);
  return { inputs, inputsHash: canonicalHashB64url(inputs), outputs: recompute(highs, inputs) };
}

export type DecisionCheck = { ok: true } | { ok: false; reason: string };

/** Recomputes a recorded decision and compares hash and outputs byte for byte. */
export function verifyDecision(highs: Highs, decision: CongestionDecision): DecisionCheck {
  const hash = canonicalHashB64url(decision.inputs);
  if (hash !== decision.inputsHash)
    return { ok: false, reason: `inputsHash is ${decision.inputsHash} but the inputs hash to ${hash}` };
  if (decision.inputs.solver !== solverVersion(highs))
    return {
      ok: false,
      reason: `decision was made with ${decision.inputs.solver}; this verifier has ${solverVersion(highs)}`,
    };
  let again: CongestionOutputs;
  try {
    again = recompute(highs, decision.inputs);
  } catch (e) {
    return { ok: false, reason: `recompute failed: ${(e as Error).message}` };
  }
  if (canonicalText(again) !== canonicalText(decision.outputs))
    return { ok: false, reason: 'recomputed outputs differ from the recorded outputs' };
  return { ok: true };
}

/** Average power of a contract over its interval, W (for displays). */
export function contractAverageW(c: CongestionContract, interval: SettlementInterval): number {
  return averageW(c.quantityWh, interval.end - interval.start);
}
