// Recomputes every validator decision in a log and names the first whose content does not follow
// from its inputs. The ledger's own checks (leaf hashes, tree, signatures, consistency) catch an
// altered or removed entry; this catches a validly signed decision that the policy and the state
// at that point do not support (a buggy, misconfigured or dishonest validator).
//
// Each decision names the policy (policyHash) and the log prefix (stateSize) it was computed from.
// The log is folded once; when the fold reaches a prefix some decision cites, that decision's
// expected content is computed there, and compared when the fold reaches the decision itself.
//  - registration, contract-review: the rules again; outcome and reason codes must match. Where the
//    rules queue the case for a person, the queued entry must match and a person's approval or
//    refusal is accepted as a judgement.
//  - deregistration: answering the participant's own request it must be approved; otherwise it is
//    a judgement (the fold requires reasons).
//  - contract-stop: reasons that are contract rule codes must be failing standing rules at that
//    point; a stop citing anything else (a regulator's order) is a judgement.
//  - congestion: the inputs are rebuilt from the state, the grid model and the policy; their hash
//    must be the decision's inputsHash, and the recomputed outcome, reasons and adjustments must
//    be the decision's (needs HiGHS; skipped without it, or without a grid model).
//  - dispute rulings and complaint decisions: judgements (the fold bounds their money moves).
import { canonicalJson } from '../../protocol/index.js';
import {
  parseValidatorDecision,
  type Reason,
  VALIDATOR_DECISION_TYP,
  type ValidatorDecision,
} from '../../protocol/messages/index.js';
import {
  applyEntry,
  emptyState,
  type FoldConfig,
  type LedgerState,
  type LogEntry,
} from '../contracts/fold.js';
import { canonicalHashB64url, canonicalText } from './congestion/canonical.js';
import { congestionInputs, recompute } from './congestion/decision.js';
import type { GridModel } from './congestion/grid-model.js';
import type { Highs } from './congestion/lp.js';
import {
  congestionDecisionFields,
  congestionRequestFromState,
  GRID_MODEL_REASON,
} from './congestion-state.js';
import { CONTRACT_RULE_CODES, contractRuleFailures, reviewContractLegality } from './contract-review.js';
import { policyHashOf, type ValidatorPolicy } from './policy.js';
import { reviewRegistration } from './registration-review.js';
import { reviewInputsHash } from './validator.js';

export interface DecisionFailure {
  index: number;
  kind: string;
  subject: string;
  reason: string;
  detail: string;
}

export interface DecisionsReport {
  ok: boolean;
  /** Decisions recomputed and found to hold. */
  checked: number;
  /** Decisions that are a person's judgement within the rules (rulings, queued cases decided…). */
  judgements: number;
  /** Decisions not recomputed, and why (e.g. congestion without HiGHS). */
  skipped: { index: number; reason: string }[];
  /** Decisions the fold refused (they changed nothing), with its code. */
  warnings: { index: number; code: string; message: string }[];
  failure?: DecisionFailure;
}

export interface VerifyDecisionsOptions {
  /** The ledger's hub and validator kids and currency, as for the fold. */
  config: FoldConfig;
  /** HiGHS, to recompute congestion decisions. */
  highs?: Highs;
}

type Expectation =
  | { type: 'exact'; outcome: string; codes: string[]; inputsHash: string; judgementOutcomes?: string[] }
  | { type: 'judgement'; inputsHash: string; requireOutcome?: string }
  | {
      type: 'stop';
      inputsHash: string;
      failing: Set<string>;
      /** Whether a recorded, recomputed congestion decision refused the contract (unknown: none recomputed). */
      congestion: 'refused' | 'not-refused' | 'unknown';
    }
  | {
      type: 'congestion';
      inputsHash: string;
      fields: Pick<ValidatorDecision, 'outcome' | 'reasons' | 'adjustments'>;
      /** The contracts the recomputation refuses. */
      refused: string[];
      /** The hash of the grid model given to the verifier. */
      gridModelHash: string;
    }
  | { type: 'skip'; reason: string }
  | { type: 'fail'; reason: string; detail: string };

const codesOf = (rs: readonly Reason[]) => rs.map((r) => r.code).sort();
const sameCodes = (a: readonly string[], b: readonly string[]) => canonicalJson(a) === canonicalJson(b);
const RULE_CODES = new Set<string>(CONTRACT_RULE_CODES);
/** The reason code of a stop that follows a refused congestion decision (hub/engine/congestion-step.ts). */
export const CONGESTION_REFUSED_CODE = 'congestion-refused';

/** What the verifier learnt from the congestion decisions it recomputed so far. */
interface CongestionSeen {
  /** Whether any congestion decision was recomputed (else stops citing congestion are judgements). */
  recomputed: boolean;
  /** Contracts a recomputed congestion decision refused. */
  refused: Set<string>;
}

/**
 * Recomputes every validator decision of `entries` (the whole log, in leaf order; or a function
 * that iterates it afresh each time it is called, for a log too large to hold) under the
 * policies given (each decision names its own by hash) and the grid model.
 */
export function verifyValidatorDecisions(
  entries: readonly LogEntry[] | (() => Iterable<LogEntry>),
  policies: ValidatorPolicy | readonly ValidatorPolicy[],
  gridModel: GridModel | undefined,
  opts: VerifyDecisionsOptions,
): DecisionsReport {
  const byHash = new Map<string, ValidatorPolicy>();
  for (const p of Array.isArray(policies) ? policies : [policies as ValidatorPolicy])
    byHash.set(policyHashOf(p), p);
  const report: DecisionsReport = { ok: true, checked: 0, judgements: 0, skipped: [], warnings: [] };
  const fail = (index: number, d: ValidatorDecision | undefined, reason: string, detail: string) => {
    report.ok = false;
    report.failure = { index, kind: d?.kind ?? '?', subject: d?.subject ?? '?', reason, detail };
    return report;
  };

  // Pass 1: which log prefixes are cited, by which decisions.
  const decisions = new Map<number, ValidatorDecision>();
  const citing = new Map<number, number[]>();
  const log = (): Iterable<LogEntry> => (typeof entries === 'function' ? entries() : entries);
  for (const e of log()) {
    if (e.typ !== VALIDATOR_DECISION_TYP || !opts.config.validatorKids.includes(e.kid)) continue;
    const p = parseValidatorDecision(e.payload);
    if (!p.ok) continue; // the fold refuses it; nothing to recompute
    const d = p.value;
    if (d.policyHash === undefined || d.stateSize === undefined)
      return fail(e.index, d, 'not-recomputable', 'the decision carries no policyHash or stateSize');
    if (d.stateSize > e.index)
      return fail(e.index, d, 'state-ahead', `stateSize ${d.stateSize} is beyond the decision's own index`);
    if (!byHash.has(d.policyHash))
      return fail(e.index, d, 'policy-unknown', `no policy given hashes to ${d.policyHash}`);
    decisions.set(e.index, d);
    citing.set(d.stateSize, [...(citing.get(d.stateSize) ?? []), e.index]);
  }

  // Pass 2: fold, computing expectations at each cited prefix.
  const state = emptyState();
  const expected = new Map<number, Expectation>();
  const seen: CongestionSeen = { recomputed: false, refused: new Set() };
  for (const e of log()) {
    for (const i of citing.get(state.size) ?? []) {
      const d = decisions.get(i) as ValidatorDecision;
      expected.set(
        i,
        expect(state, d, byHash.get(d.policyHash as string) as ValidatorPolicy, gridModel, opts, seen),
      );
    }
    citing.delete(state.size);
    const outcome = applyEntry(state, e, opts.config);
    const d = decisions.get(e.index);
    if (d === undefined) continue;
    if (outcome.status === 'refused')
      report.warnings.push({ index: e.index, code: outcome.code, message: outcome.message });
    const x = expected.get(e.index);
    if (x === undefined) return fail(e.index, d, 'not-recomputable', 'its state prefix was never reached');
    const verdict = compare(d, x);
    if (verdict === 'checked' && x.type === 'congestion') {
      seen.recomputed = true;
      for (const c of x.refused) seen.refused.add(c);
    }
    if (verdict === 'checked') report.checked++;
    else if (verdict === 'judgement') report.judgements++;
    else if (verdict === 'skipped')
      report.skipped.push({ index: e.index, reason: (x as { reason: string }).reason });
    else return fail(e.index, d, verdict.reason, verdict.detail);
    expected.delete(e.index);
  }
  return report;
}

function expect(
  state: LedgerState,
  d: ValidatorDecision,
  policy: ValidatorPolicy,
  gridModel: GridModel | undefined,
  opts: VerifyDecisionsOptions,
  seen: CongestionSeen,
): Expectation {
  const inputsHash = reviewInputsHash(d.kind, d.subject, d.policyHash as string, d.stateSize as number);
  switch (d.kind) {
    case 'registration': {
      const p = state.registry.participants[d.subject];
      if (p === undefined)
        return { type: 'fail', reason: 'unknown-subject', detail: `no application from ${d.subject}` };
      const r = reviewRegistration(p, state.registry, policy, gridModel);
      return {
        type: 'exact',
        outcome: r.outcome,
        codes: codesOf(r.reasons),
        inputsHash,
        ...(r.outcome === 'queued' ? { judgementOutcomes: ['approved', 'refused'] } : {}),
      };
    }
    case 'contract-review': {
      const rec = state.contracts[d.subject];
      if (rec === undefined)
        return { type: 'fail', reason: 'unknown-subject', detail: `no contract ${d.subject}` };
      const r = reviewContractLegality(rec.contract, state, d.at, policy, {
        currency: opts.config.currency,
        contractId: rec.id,
      });
      return {
        type: 'exact',
        outcome: r.outcome,
        codes: codesOf(r.reasons),
        inputsHash,
        ...(r.outcome === 'queued' ? { judgementOutcomes: ['approved', 'refused'] } : {}),
      };
    }
    case 'deregistration': {
      const p = state.registry.participants[d.subject];
      if (p?.deregistrationRequest !== null && p?.deregistrationRequest !== undefined)
        return { type: 'judgement', inputsHash, requireOutcome: 'approved' };
      return { type: 'judgement', inputsHash };
    }
    case 'contract-stop': {
      const rec = state.contracts[d.subject];
      if (rec === undefined)
        return { type: 'fail', reason: 'unknown-subject', detail: `no contract ${d.subject}` };
      const failing = contractRuleFailures(rec.contract, state, d.at, policy, {
        currency: opts.config.currency,
        mode: 'standing',
        contractId: rec.id,
      });
      return {
        type: 'stop',
        inputsHash,
        failing: new Set(failing.map((r) => r.code)),
        congestion: seen.refused.has(d.subject) ? 'refused' : seen.recomputed ? 'not-refused' : 'unknown',
      };
    }
    case 'dispute':
    case 'complaint':
      return { type: 'judgement', inputsHash };
    case 'congestion': {
      if (policy.congestion === undefined)
        return {
          type: 'fail',
          reason: 'no-congestion-policy',
          detail: 'the policy has no congestion section',
        };
      if (gridModel === undefined) return { type: 'skip', reason: 'congestion: no grid model given' };
      if (opts.highs === undefined) return { type: 'skip', reason: 'congestion: no HiGHS given' };
      if (d.interval === undefined)
        return { type: 'fail', reason: 'no-interval', detail: 'a congestion decision names its interval' };
      try {
        const { request } = congestionRequestFromState(state, d.interval, gridModel, policy.congestion);
        const inputs = congestionInputs(opts.highs, request);
        const outputs = recompute(opts.highs, inputs);
        return {
          type: 'congestion',
          inputsHash: canonicalHashB64url(inputs),
          fields: congestionDecisionFields(outputs, d.interval, {
            name: gridModel.name,
            hash: inputs.gridModelHash,
          }),
          gridModelHash: inputs.gridModelHash,
          refused: outputs.refused.map((r) => r.contract),
        };
      } catch (err) {
        return { type: 'fail', reason: 'recompute-failed', detail: (err as Error).message };
      }
    }
  }
}

type Verdict = 'checked' | 'judgement' | 'skipped' | { reason: string; detail: string };

function compare(d: ValidatorDecision, x: Expectation): Verdict {
  if (x.type === 'fail') return x;
  if (x.type === 'skip') return 'skipped';
  if (d.inputsHash !== x.inputsHash && x.type === 'congestion') {
    // Name the likely cause: the decision says which grid model it was made on.
    const named = d.reasons.find((r) => r.code === GRID_MODEL_REASON)?.message;
    if (named !== undefined && !named.endsWith(x.gridModelHash))
      return {
        reason: 'inputs-mismatch',
        detail: `the decision was made on ${named}; the grid model given hashes to ${x.gridModelHash} (give the grid model file the decision names)`,
      };
  }
  if (d.inputsHash !== x.inputsHash)
    return {
      reason: 'inputs-mismatch',
      detail: `inputsHash is ${d.inputsHash}; the inputs rebuilt from the log hash to ${x.inputsHash}`,
    };
  switch (x.type) {
    case 'exact': {
      if (d.outcome === x.outcome && sameCodes(codesOf(d.reasons), x.codes)) return 'checked';
      if (x.judgementOutcomes?.includes(d.outcome)) return 'judgement';
      return {
        reason: 'outcome-mismatch',
        detail: `recorded ${d.outcome} [${codesOf(d.reasons).join(', ')}]; the rules give ${x.outcome} [${x.codes.join(', ')}]`,
      };
    }
    case 'judgement':
      if (x.requireOutcome !== undefined && d.outcome !== x.requireOutcome)
        return {
          reason: 'outcome-mismatch',
          detail: `the participant asked to leave; the decision must be ${x.requireOutcome}, not ${d.outcome}`,
        };
      return x.requireOutcome !== undefined ? 'checked' : 'judgement';
    case 'stop': {
      if (d.reasons.length > 0 && d.reasons.every((r) => r.code === CONGESTION_REFUSED_CODE)) {
        if (x.congestion === 'refused') return 'checked';
        if (x.congestion === 'unknown') return 'judgement';
        return {
          reason: 'stop-unfounded',
          detail: `the stop cites ${CONGESTION_REFUSED_CODE}, but no congestion decision before it refused ${d.subject}`,
        };
      }
      const cited = d.reasons.map((r) => r.code).filter((c) => RULE_CODES.has(c));
      if (cited.length < d.reasons.length) return 'judgement';
      const holding = cited.filter((c) => !x.failing.has(c));
      if (holding.length > 0)
        return {
          reason: 'stop-unfounded',
          detail: `the stop cites ${holding.join(', ')}, but at that point the contract passes ${holding.length === 1 ? 'that rule' : 'those rules'}`,
        };
      return 'checked';
    }
    case 'congestion': {
      const recorded = { outcome: d.outcome, reasons: d.reasons, adjustments: d.adjustments };
      if (canonicalText(recorded) !== canonicalText(x.fields))
        return {
          reason: 'outcome-mismatch',
          detail: `recorded ${d.outcome} with ${d.adjustments?.length ?? 0} adjustments; the recomputation gives ${x.fields.outcome} with ${x.fields.adjustments?.length ?? 0}`,
        };
      return 'checked';
    }
  }
}
