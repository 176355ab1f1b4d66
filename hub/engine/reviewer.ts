// Who makes the validator's decisions at run time. The engine asks a Reviewer for the decisions
// the folded state is waiting for and appends them; it never edits one. Two implementations: the
// validator service (hub/validator/validator.ts, with its policy file — its `review` has exactly
// this shape), and SimpleReviewer, the simple rule sets of issue 6 (registration-rules,
// review-rules) for a hub run without a validator policy. Both sign with the validator's key.
import { canonicalJson } from '../../protocol/index.js';
import {
  signMessage,
  VALIDATOR_DECISION_TYP,
  type ValidatorDecision,
} from '../../protocol/messages/index.js';
import type { LedgerState } from '../contracts/fold.js';
import { reviewContract } from '../contracts/review-rules.js';
import {
  DEFAULT_POLICY,
  policyHash,
  type RegistrationPolicy,
  reviewApplication,
} from '../participants/registration-rules.js';
import type { ValidatorKey } from './validator-key.js';

export interface ReviewDecision {
  /** The validator-signed compact JWS to append. */
  compact: string;
  decision: ValidatorDecision;
}

export interface Reviewer {
  /** The validator kid its decisions are signed with. */
  readonly kid: string;
  /**
   * Decisions for what the state is waiting for (pending applications, proposed contracts not yet
   * reviewed). The engine appends them in order, folds, and asks again until none come back.
   */
  review(state: LedgerState, at: number): ReviewDecision[];
}

/** The simple rule sets (docs/contracts.md, "Simple review rules"), signed by the validator key. */
export class SimpleReviewer implements Reviewer {
  readonly kid: string;
  private readonly inputsHash: string;

  constructor(
    private readonly key: ValidatorKey,
    private readonly currency: string,
    private readonly policy: RegistrationPolicy = DEFAULT_POLICY,
  ) {
    this.kid = key.kid;
    this.inputsHash = policyHash(policy);
  }

  review(state: LedgerState, at: number): ReviewDecision[] {
    const out: ReviewDecision[] = [];
    const pending = Object.values(state.registry.participants)
      .filter((p) => p.status === 'pending' && p.queued === null)
      .sort((a, b) => a.appliedIndex - b.appliedIndex);
    for (const p of pending) {
      const r = reviewApplication(
        {
          participant: p.id,
          publicKey: p.publicKey,
          role: p.role,
          energies: p.energies,
          region: p.region,
          gridNode: p.gridNode,
          gateways: p.gateways,
          capacityW: p.capacityW,
          at,
        },
        state.registry,
        this.policy,
      );
      out.push(
        this.sign({ kind: 'registration', subject: p.id, outcome: r.outcome, reasons: r.reasons }, state, at),
      );
    }
    const proposed = Object.values(state.contracts)
      .filter((r) => r.status === 'proposed' && r.review === null)
      .sort((a, b) => a.id.localeCompare(b.id));
    for (const rec of proposed) {
      const reasons = reviewContract(rec.contract, state, at, this.currency);
      out.push(
        this.sign(
          {
            kind: 'contract-review',
            subject: rec.id,
            outcome: reasons.length === 0 ? 'approved' : 'refused',
            reasons,
          },
          state,
          at,
        ),
      );
    }
    return out;
  }

  private sign(
    fields: Pick<ValidatorDecision, 'kind' | 'subject' | 'outcome' | 'reasons'>,
    state: LedgerState,
    at: number,
  ): ReviewDecision {
    const decision = JSON.parse(
      canonicalJson({ ...fields, inputsHash: this.inputsHash, stateSize: state.size, at }),
    ) as ValidatorDecision;
    return {
      compact: signMessage(VALIDATOR_DECISION_TYP, this.kid, decision, this.key.secretKey),
      decision,
    };
  }
}
