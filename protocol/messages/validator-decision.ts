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
] as const;
export const DECISION_OUTCOMES = [
  'approved',
  'refused',
  'stopped',
  'adjusted',
  'upheld',
  'rejected',
] as const;

/** Which outcomes each kind of decision may have. */
export const OUTCOMES_BY_KIND: Record<
  (typeof DECISION_KINDS)[number],
  readonly (typeof DECISION_OUTCOMES)[number][]
> = {
  registration: ['approved', 'refused'],
  deregistration: ['approved', 'refused'],
  'contract-review': ['approved', 'refused'],
  'contract-stop': ['stopped'],
  congestion: ['approved', 'adjusted', 'refused'],
  dispute: ['upheld', 'rejected'],
};

/** Outcomes that take something away and so must say why. */
const NEEDS_REASON = new Set<string>(['refused', 'stopped', 'adjusted', 'rejected']);

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
