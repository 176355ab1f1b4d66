// The gateway's signed answer to a dispatch command: applied (with the measured response) or
// refused (with the reason). Chained, so it is ledgered like a proof.
import { z } from 'zod';
import {
  chainFields,
  chainRules,
  contractId,
  hash32,
  parseWith,
  type RuleIssue,
  reason,
  safeInt,
  utcMs,
  withRules,
} from './common.js';

export const DISPATCH_RESPONSE_TYP = 'wattproof.dispatch-response.v1';

const structure = z.strictObject({
  ...chainFields,
  /** base64url message hash of the dispatch command's compact JWS. */
  command: hash32,
  contract: contractId,
  outcome: z.enum(['applied', 'refused']),
  /** Why it was refused (required when refused, absent when applied). */
  reason: reason.optional(),
  /** The setpoint written to the battery, W (+ discharge, − charge); absent when refused. */
  appliedW: safeInt.optional(),
  /** The battery's measured AC power after applying, W (+ discharge, − charge), when read. */
  measuredW: safeInt.optional(),
  at: utcMs,
});

function rules(v: z.output<typeof structure>): RuleIssue[] {
  const out = chainRules(v);
  if (v.outcome === 'refused') {
    if (v.reason === undefined)
      out.push({ path: ['reason'], message: 'is required when outcome is "refused"' });
    if (v.appliedW !== undefined)
      out.push({ path: ['appliedW'], message: 'must be absent when outcome is "refused"' });
    if (v.measuredW !== undefined)
      out.push({ path: ['measuredW'], message: 'must be absent when outcome is "refused"' });
  } else {
    if (v.reason !== undefined)
      out.push({ path: ['reason'], message: 'must be absent when outcome is "applied"' });
    if (v.appliedW === undefined)
      out.push({ path: ['appliedW'], message: 'is required when outcome is "applied"' });
  }
  return out;
}

export const dispatchResponseSchema = withRules(structure, rules);
export type DispatchResponse = z.output<typeof dispatchResponseSchema>;

export function parseDispatchResponse(payload: unknown) {
  return parseWith(dispatchResponseSchema, payload);
}
