// The validator's rulings on a person's word: a dispute ruling (upheld or rejected, with a bounded
// refund between the parties) and a complaint decision. The validator service
// (hub/validator/validator.ts) has exactly these two methods; KeyRulings gives a hub run without a
// validator policy the same two, signed with the validator key, with the same checks. The engine
// appends what they sign (Engine.decide); the operator's bearer token authorises the request.
import { canonicalJson } from '../../protocol/index.js';
import {
  type Reason,
  type Refund,
  signMessage,
  VALIDATOR_DECISION_TYP,
  type ValidatorDecision,
} from '../../protocol/messages/index.js';
import type { LedgerState } from '../contracts/fold.js';
import { complaintDecisionRefusal, disputeRulingRefusal } from '../contracts/ruling-checks.js';
import { canonicalHashB64url } from '../validator/congestion/canonical.js';
import type { ValidatorKey } from './validator-key.js';

export interface DisputeRuling {
  outcome: 'upheld' | 'rejected';
  reasons: Reason[];
  refund?: Refund;
}

export interface Rulings {
  readonly kid: string;
  rule(state: LedgerState, dispute: string, ruling: DisputeRuling, at: number): { compact: string };
  decideComplaint(
    state: LedgerState,
    complaint: string,
    outcome: 'upheld' | 'rejected',
    reasons: Reason[],
    at: number,
  ): { compact: string };
}

/** Why a ruling cannot be made (the API answers 409 with the code). */
export class RulingError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'RulingError';
  }
}

/** Rulings signed with the validator key, for a hub without a validator policy. */
export class KeyRulings implements Rulings {
  readonly kid: string;

  constructor(private readonly key: ValidatorKey) {
    this.kid = key.kid;
  }

  rule(state: LedgerState, dispute: string, ruling: DisputeRuling, at: number): { compact: string } {
    const refusal = disputeRulingRefusal(state, dispute, ruling.refund);
    if (refusal) throw new RulingError(refusal.code, refusal.message);
    return this.sign(state, {
      kind: 'dispute',
      subject: dispute,
      outcome: ruling.outcome,
      reasons: ruling.reasons,
      ...(ruling.refund === undefined ? {} : { refund: ruling.refund }),
      at,
    });
  }

  decideComplaint(
    state: LedgerState,
    complaint: string,
    outcome: 'upheld' | 'rejected',
    reasons: Reason[],
    at: number,
  ): { compact: string } {
    const refusal = complaintDecisionRefusal(state, complaint);
    if (refusal) throw new RulingError(refusal.code, refusal.message);
    return this.sign(state, { kind: 'complaint', subject: complaint, outcome, reasons, at });
  }

  private sign(
    state: LedgerState,
    fields: Omit<ValidatorDecision, 'inputsHash' | 'stateSize'>,
  ): { compact: string } {
    const inputsHash = canonicalHashB64url({
      kind: fields.kind,
      subject: fields.subject,
      stateSize: state.size,
    });
    const decision = JSON.parse(
      canonicalJson({ ...fields, inputsHash, stateSize: state.size }),
    ) as ValidatorDecision;
    return { compact: signMessage(VALIDATOR_DECISION_TYP, this.kid, decision, this.key.secretKey) };
  }
}
