// Money entering an account (hub-signed), standing in for a bank transfer. Money moves otherwise
// only by settlement rules (docs/contracts.md).
import { z } from 'zod';
import { parseWith, participantId, positiveInt, text, utcMs } from './common.js';
import { currency } from './price.js';

export const OPERATOR_CREDIT_TYP = 'wattproof.operator-credit.v1';

export const operatorCreditSchema = z.strictObject({
  account: participantId,
  amountMinor: positiveInt,
  currency,
  /** The bank transfer (or other) reference the credit rests on. */
  reference: text(128),
  at: utcMs,
});
export type OperatorCredit = z.output<typeof operatorCreditSchema>;

export function parseOperatorCredit(payload: unknown) {
  return parseWith(operatorCreditSchema, payload);
}
