// A decision of the validator (the weak center), signed with its key and appended to the log. It
// can approve, refuse, stop, adjust or rule; it never edits an earlier entry.
import { z } from 'zod';
import {
  contractId,
  hash32,
  interval,
  intervalOrderRules,
  nonNegativeInt,
  parseWith,
  participantId,
  positiveInt,
  type RuleIssue,
  reason,
  utcMs,
  withRules,
} from './common.js';

export const VALIDATOR_DECISION_TYP = 'wattproof.validator-decision.v1';

export const DECISION_KINDS = [
  'registration',
  'deregistration',
  'contract-review',
  'contract-stop',
  'congestion',
  'dispute',
  'complaint',
] as const;
export const DECISION_OUTCOMES = [
  'approved',
  'refused',
  'stopped',
  'adjusted',
  'upheld',
  'rejected',
  'queued',
] as const;

/** Which outcomes each kind of decision may have. */
export const OUTCOMES_BY_KIND: Record<
  (typeof DECISION_KINDS)[number],
  readonly (typeof DECISION_OUTCOMES)[number][]
> = {
  registration: ['approved', 'refused', 'queued'],
  deregistration: ['approved', 'refused'],
  'contract-review': ['approved', 'refused', 'queued'],
  'contract-stop': ['stopped'],
  congestion: ['approved', 'adjusted', 'refused'],
  dispute: ['upheld', 'rejected'],
  complaint: ['upheld', 'rejected'],
};

/** Outcomes that take something away (or hold something back) and so must say why. */
const NEEDS_REASON = new Set<string>(['refused', 'stopped', 'adjusted', 'rejected', 'queued']);

/** A dispute ruling's money move: from one party of the contract to the other, minor units. */
export const refund = z.strictObject({
  from: participantId,
  to: participantId,
  amountMinor: positiveInt,
});
export type Refund = z.infer<typeof refund>;

export const adjustment = z.strictObject({
  contract: contractId,
  /** The settlement interval adjusted. */
  interval,
  /** The quantity the contract may deliver in that interval after adjustment, Wh. */
  quantityWh: nonNegativeInt,
});

const subject = z
  .string()
  .regex(
    /^((gw|pt|hub|val|op)-[a-z2-7]{16}|ct-[A-Za-z0-9_-]{43}|[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048])$/,
    'must be an id (pt-…, gw-…), a contract id (ct-…) or a base64url SHA-256 hash',
  );

const structure = z.strictObject({
  kind: z.enum(DECISION_KINDS),
  /** What the decision is about: a participant or gateway id, a contract id, or a message hash. */
  subject,
  outcome: z.enum(DECISION_OUTCOMES),
  reasons: z.array(reason).max(100),
  /** base64url SHA-256 of the inputs (policy, grid model, contracts…) so anyone can recompute. */
  inputsHash: hash32,
  /** Required when the outcome is "adjusted". */
  adjustments: z.array(adjustment).min(1).max(100_000).optional(),
  /** base64url SHA-256 of the validator policy the decision applied (docs/validator.md). */
  policyHash: hash32.optional(),
  /** The decision follows from the state folded over the first `stateSize` entries of the log. */
  stateSize: nonNegativeInt.optional(),
  /** A congestion decision's settlement interval. */
  interval: interval.optional(),
  /** An upheld dispute's money move between the contract's parties. */
  refund: refund.optional(),
  at: utcMs,
});

function rules(v: z.output<typeof structure>): RuleIssue[] {
  const out: RuleIssue[] = [];
  const allowed = OUTCOMES_BY_KIND[v.kind];
  if (!allowed.includes(v.outcome))
    out.push({
      path: ['outcome'],
      message: `a ${v.kind} decision is ${allowed.map((o) => `"${o}"`).join(' or ')}, not "${v.outcome}"`,
    });
  if (NEEDS_REASON.has(v.outcome) && v.reasons.length === 0)
    out.push({ path: ['reasons'], message: `must name at least one reason for outcome "${v.outcome}"` });
  if (v.outcome === 'adjusted' && v.adjustments === undefined)
    out.push({ path: ['adjustments'], message: 'is required when outcome is "adjusted"' });
  if (v.outcome !== 'adjusted' && v.adjustments !== undefined)
    out.push({ path: ['adjustments'], message: 'is only allowed when outcome is "adjusted"' });
  if (v.refund !== undefined && !(v.kind === 'dispute' && v.outcome === 'upheld'))
    out.push({ path: ['refund'], message: 'is only allowed on an upheld dispute ruling' });
  if (v.refund !== undefined && v.refund.from === v.refund.to)
    out.push({ path: ['refund', 'to'], message: 'must differ from refund.from' });
  if (v.interval !== undefined && v.kind !== 'congestion')
    out.push({ path: ['interval'], message: 'is only allowed on a congestion decision' });
  if (v.interval !== undefined) out.push(...intervalOrderRules(v.interval, ['interval']));
  v.adjustments?.forEach((a, i) => {
    out.push(...intervalOrderRules(a.interval, ['adjustments', i, 'interval']));
  });
  return out;
}

export const validatorDecisionSchema = withRules(structure, rules);
export type ValidatorDecision = z.output<typeof validatorDecisionSchema>;

export function parseValidatorDecision(payload: unknown) {
  return parseWith(validatorDecisionSchema, payload);
}
