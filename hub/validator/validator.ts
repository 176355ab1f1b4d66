// The validator service (the weak center): its own key, the policy, and optionally the grid model
// and HiGHS. Given the folded state it produces signed validator decisions: reviews of pending
// applications and proposed contracts, answers to deregistration requests, congestion decisions
// per interval, and — on a person's word — decisions of queued cases, stops, deregistrations,
// dispute rulings and complaint decisions. No I/O: the hub's composition root calls it and appends
// what it returns. Every decision carries the policy hash and the state size it was computed from,
// so `verifyValidatorDecisions` can recompute it.
import { canonicalJson, deriveId, publicKeyOf } from '../../protocol/index.js';
import {
  type Reason,
  type Refund,
  signMessage,
  VALIDATOR_DECISION_TYP,
  type ValidatorDecision,
} from '../../protocol/messages/index.js';
import type { ContractRecord, LedgerState } from '../contracts/fold.js';
import { complaintDecisionRefusal, disputeRulingRefusal } from '../contracts/ruling-checks.js';
import { canonicalHashB64url, canonicalText } from './congestion/canonical.js';
import type { SettlementInterval } from './congestion/contracts.js';
import {
  type CongestionDecision,
  type CongestionPolicy,
  congestionPolicySchema,
  recompute,
} from './congestion/decision.js';
import { type GridModel, gridModelHash } from './congestion/grid-model.js';
import { type Highs, solverVersion } from './congestion/lp.js';
import {
  congestionDecisionFields,
  congestionRequestFromState,
  type PreparedCongestion,
  prepareCongestion,
} from './congestion-state.js';
import { reviewContractLegality } from './contract-review.js';
import { policyHashOf, type ValidatorPolicy } from './policy.js';
import { reviewRegistration } from './registration-review.js';

export interface SignedDecision {
  /** The compact JWS to append to the ledger. */
  compact: string;
  decision: ValidatorDecision;
}

export interface SignedCongestionDecision extends SignedDecision {
  /** The full inputs and outputs (the signed decision holds only their hash); store beside the log. */
  record: CongestionDecision;
  /** Contracts left out because a party's grid node is not a bus of the grid model. */
  unplaced: string[];
}

export class ValidatorError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ValidatorError';
  }
}

/**
 * The inputsHash of a review-type decision: what it was computed from (the policy, the state size,
 * the kind and the subject); the log prefix itself is what a verifier folds.
 */
export function reviewInputsHash(
  kind: string,
  subject: string,
  policyHash: string,
  stateSize: number,
): string {
  return canonicalHashB64url({ kind, subject, policyHash, stateSize });
}

export interface ValidatorOptions {
  /** The validator's Ed25519 secret key (its id `val-…` is derived from it). */
  secretKey: Uint8Array;
  policy: ValidatorPolicy;
  /** The ledger's currency (FoldConfig.currency). */
  currency: string;
  /** For congestion decisions and the grid-node rule. */
  gridModel?: GridModel;
  /** HiGHS (congestion/lp.ts loadSolver), for congestion decisions. */
  highs?: Highs;
}

export class Validator {
  readonly kid: string;
  readonly publicKey: Uint8Array;
  readonly policyHash: string;
  /** The grid model's hash and the congestion policy's canonical text, computed once. */
  private congestionRefs?: { gridModelHash: string; policyText: string };

  constructor(private readonly opts: ValidatorOptions) {
    this.publicKey = publicKeyOf(opts.secretKey);
    this.kid = deriveId('val', this.publicKey);
    this.policyHash = policyHashOf(opts.policy);
  }

  get policy(): ValidatorPolicy {
    return this.opts.policy;
  }

  private sign(
    state: LedgerState,
    fields: Omit<ValidatorDecision, 'policyHash' | 'stateSize' | 'inputsHash' | 'at'> & {
      inputsHash?: string;
    },
    at: number,
  ): SignedDecision {
    const decision: ValidatorDecision = {
      ...fields,
      inputsHash:
        fields.inputsHash ?? reviewInputsHash(fields.kind, fields.subject, this.policyHash, state.size),
      policyHash: this.policyHash,
      stateSize: state.size,
      at,
    };
    // Sign exactly the canonical JSON (no undefined members), the bytes every verifier reads.
    const payload = JSON.parse(canonicalJson(decision)) as ValidatorDecision;
    return {
      compact: signMessage(VALIDATOR_DECISION_TYP, this.kid, payload, this.opts.secretKey),
      decision: payload,
    };
  }

  /**
   * Decisions for everything waiting in the state: pending applications (not queued), deregistration
   * requests, and proposed contracts not yet reviewed — at most one contract per seller per call, so
   * a seller's capacity is judged with its previous approval folded in (call again after appending).
   * Append them in the order returned, then fold, before calling again.
   */
  review(state: LedgerState, at: number): SignedDecision[] {
    const out: SignedDecision[] = [];
    const participants = Object.values(state.registry.participants).sort(
      (a, b) => a.appliedIndex - b.appliedIndex,
    );
    for (const p of participants) {
      if (p.status === 'pending' && p.queued === null) {
        const r = reviewRegistration(p, state.registry, this.opts.policy, this.opts.gridModel);
        out.push(
          this.sign(
            state,
            { kind: 'registration', subject: p.id, outcome: r.outcome, reasons: r.reasons },
            at,
          ),
        );
      }
      if (p.status === 'approved' && p.deregistrationRequest !== null)
        out.push(
          this.sign(
            state,
            {
              kind: 'deregistration',
              subject: p.id,
              outcome: 'approved',
              reasons: [
                {
                  code: 'participant-request',
                  message: `${p.id} asked to leave (entry ${p.deregistrationRequest.index})`,
                },
              ],
            },
            at,
          ),
        );
    }
    const sellers = new Set<string>();
    const proposed = Object.values(state.contracts)
      .filter((r) => r.status === 'proposed' && r.review === null)
      .sort((a, b) => lastSignature(a) - lastSignature(b));
    for (const rec of proposed) {
      if (sellers.has(rec.contract.seller)) continue;
      sellers.add(rec.contract.seller);
      const r = reviewContractLegality(rec.contract, state, at, this.opts.policy, {
        currency: this.opts.currency,
        contractId: rec.id,
      });
      out.push(
        this.sign(
          state,
          { kind: 'contract-review', subject: rec.id, outcome: r.outcome, reasons: r.reasons },
          at,
        ),
      );
    }
    return out;
  }

  /** A person's decision on a queued application or contract. */
  decideQueued(
    state: LedgerState,
    kind: 'registration' | 'contract-review',
    subject: string,
    outcome: 'approved' | 'refused',
    reasons: Reason[],
    at: number,
  ): SignedDecision {
    const queued =
      kind === 'registration'
        ? state.registry.participants[subject]?.queued
        : state.contracts[subject]?.review?.outcome === 'queued'
          ? state.contracts[subject]?.review
          : null;
    if (queued === undefined || queued === null)
      throw new ValidatorError('not-queued', `${subject} is not queued for a person`);
    return this.sign(state, { kind, subject, outcome, reasons }, at);
  }

  /** Stops an approved, active or delivering contract; settlement then follows the stop rule. */
  stop(state: LedgerState, contract: string, reasons: Reason[], at: number): SignedDecision {
    const rec = state.contracts[contract];
    if (rec === undefined) throw new ValidatorError('unknown-contract', `no contract ${contract} in the log`);
    if (!['approved', 'active', 'delivering'].includes(rec.status))
      throw new ValidatorError('not-stoppable', `the contract is ${rec.status}`);
    if (reasons.length === 0) throw new ValidatorError('reason-required', 'a stop names its reasons');
    return this.sign(state, { kind: 'contract-stop', subject: contract, outcome: 'stopped', reasons }, at);
  }

  /** Deregisters a participant on the validator's own motion (with reasons). */
  deregister(state: LedgerState, participant: string, reasons: Reason[], at: number): SignedDecision {
    if (state.registry.participants[participant]?.status !== 'approved')
      throw new ValidatorError('not-registered', `${participant} is not a registered participant`);
    if (reasons.length === 0)
      throw new ValidatorError('reason-required', 'a deregistration names its reasons');
    return this.sign(
      state,
      { kind: 'deregistration', subject: participant, outcome: 'approved', reasons },
      at,
    );
  }

  /** Rules on an open dispute; an upheld ruling may move money between the parties (bounded). */
  rule(
    state: LedgerState,
    dispute: string,
    ruling: { outcome: 'upheld' | 'rejected'; reasons: Reason[]; refund?: Refund },
    at: number,
  ): SignedDecision {
    const refusal = disputeRulingRefusal(state, dispute, ruling.refund);
    if (refusal) throw new ValidatorError(refusal.code, refusal.message);
    return this.sign(
      state,
      {
        kind: 'dispute',
        subject: dispute,
        outcome: ruling.outcome,
        reasons: ruling.reasons,
        ...(ruling.refund === undefined ? {} : { refund: ruling.refund }),
      },
      at,
    );
  }

  /** Decides an open complaint. */
  decideComplaint(
    state: LedgerState,
    complaint: string,
    outcome: 'upheld' | 'rejected',
    reasons: Reason[],
    at: number,
  ): SignedDecision {
    const refusal = complaintDecisionRefusal(state, complaint);
    if (refusal) throw new ValidatorError(refusal.code, refusal.message);
    return this.sign(state, { kind: 'complaint', subject: complaint, outcome, reasons }, at);
  }

  /**
   * The congestion decision for one settlement interval, or undefined when the policy has no
   * congestion section or no contract flows in the interval. Throws CongestionInfeasibleError when
   * no adjustment within the policy clears the overloads (nothing to record; raise an alert).
   *
   * `prepared`: the interval's inputs and hash already built from this state (prepareCongestion),
   * so they are not built and hashed again; the decision is byte for byte the one made without
   * them. They are signed as given, so they must be of this state's size and this interval, grid
   * model, policy and solver (checked; ValidatorError `prepared-mismatch` otherwise).
   */
  congestion(
    state: LedgerState,
    interval: SettlementInterval,
    at: number,
    prepared?: PreparedCongestion,
  ): SignedCongestionDecision | undefined {
    const policy = this.opts.policy.congestion;
    if (policy === undefined) return undefined;
    const { gridModel, highs } = this.opts;
    if (gridModel === undefined || highs === undefined)
      throw new ValidatorError('no-grid', 'congestion decisions need the grid model and HiGHS');
    let built: PreparedCongestion;
    if (prepared === undefined) {
      const fromState = congestionRequestFromState(state, interval, gridModel, policy);
      if (fromState.request.contracts.length === 0) return undefined;
      built = prepareCongestion(highs, state.size, fromState);
    } else {
      this.checkPrepared(prepared, state, interval, gridModel, highs, policy);
      if (prepared.inputs.contracts.length === 0) return undefined;
      built = prepared;
    }
    const { inputs, inputsHash, unplaced } = built;
    // What decideCongestion gives for the same request: the inputs, their hash, the outputs.
    const record: CongestionDecision = { inputs, inputsHash, outputs: recompute(highs, inputs) };
    const signed = this.sign(
      state,
      {
        kind: 'congestion',
        subject: record.inputsHash,
        inputsHash: record.inputsHash,
        interval: { start: interval.start, end: interval.end },
        ...congestionDecisionFields(record.outputs, interval, {
          name: gridModel.name,
          hash: record.inputs.gridModelHash,
        }),
      },
      at,
    );
    return { ...signed, record, unplaced };
  }

  /** Throws unless `p` was built from this state size, interval, grid model, policy and solver. */
  private checkPrepared(
    p: PreparedCongestion,
    state: LedgerState,
    interval: SettlementInterval,
    gridModel: GridModel,
    highs: Highs,
    policy: CongestionPolicy,
  ): void {
    this.congestionRefs ??= {
      gridModelHash: gridModelHash(gridModel),
      policyText: canonicalText(congestionPolicySchema.parse(policy)),
    };
    const refs = this.congestionRefs;
    const i = p.inputs;
    const wrong =
      p.stateSize !== state.size
        ? `a state of ${p.stateSize} entries, not ${state.size}`
        : i.interval.start !== interval.start || i.interval.end !== interval.end
          ? `the interval ${i.interval.start}–${i.interval.end}, not ${interval.start}–${interval.end}`
          : i.gridModelHash !== refs.gridModelHash
            ? `grid model ${i.gridModelHash}, not the validator's ${refs.gridModelHash}`
            : i.solver !== solverVersion(highs)
              ? `${i.solver}, not the validator's ${solverVersion(highs)}`
              : canonicalText(i.policy) !== refs.policyText
                ? "another congestion policy than the validator's"
                : undefined;
    if (wrong !== undefined)
      throw new ValidatorError(
        'prepared-mismatch',
        `the prepared congestion inputs were built for ${wrong}; build them with prepareCongestion from this state, with the validator's grid model, policy and HiGHS`,
      );
  }
}

function lastSignature(r: ContractRecord): number {
  return Math.max(r.signatures.seller ?? -1, r.signatures.buyer ?? -1);
}
