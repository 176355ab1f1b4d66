// What must hold before a dispute ruling or a complaint decision is signed, as pure checks of the
// folded state: the validator service (hub/validator/validator.ts) and the key-only rulings of a hub
// without a validator policy (hub/engine/rulings.ts) refuse the same things with the same codes.
import type { Refund } from '../../protocol/messages/index.js';
import { type ContractRecord, type LedgerState, refundBound } from './fold.js';

export interface RulingRefusal {
  code: 'not-open' | 'refund-above-bound';
  message: string;
}

/** Why a ruling on `dispute` (with `refund`, if any) cannot be made now; undefined when it can. */
export function disputeRulingRefusal(
  state: LedgerState,
  dispute: string,
  refund: Refund | undefined,
): RulingRefusal | undefined {
  const d = Object.hasOwn(state.disputes, dispute) ? state.disputes[dispute] : undefined;
  if (d === undefined || d.status !== 'open')
    return { code: 'not-open', message: `no open dispute ${dispute} in the log` };
  if (refund !== undefined) {
    const bound = refundBound(state.contracts[d.contract] as ContractRecord, refund.from);
    if (refund.amountMinor > bound)
      return { code: 'refund-above-bound', message: `a refund from ${refund.from} is at most ${bound}` };
  }
  return undefined;
}

/** Why `complaint` cannot be decided now; undefined when it can. */
export function complaintDecisionRefusal(state: LedgerState, complaint: string): RulingRefusal | undefined {
  const c = Object.hasOwn(state.complaints, complaint) ? state.complaints[complaint] : undefined;
  if (c?.status !== 'open') return { code: 'not-open', message: `no open complaint ${complaint} in the log` };
  return undefined;
}
