import { describe, expect, it } from 'vitest';
import { type ContractRecord, type DisputeRecord, emptyState, type LedgerState } from './fold.js';
import { complaintDecisionRefusal, disputeRulingRefusal } from './ruling-checks.js';

// A settled contract (payment 1,000, penalty 200) with one open dispute and one open complaint;
// only the fields the checks read are filled in.
function world(): LedgerState {
  const state = emptyState();
  state.contracts.c1 = {
    contract: { seller: 'pt-seller', buyer: 'pt-buyer' },
    settlement: { payload: { paymentMinor: 1000, penaltyMinor: 200 } },
    refunds: { sellerToBuyer: 300, buyerToSeller: 0 },
  } as unknown as ContractRecord;
  state.disputes.d1 = { contract: 'c1', status: 'open' } as unknown as DisputeRecord;
  state.disputes.d2 = { contract: 'c1', status: 'upheld' } as unknown as DisputeRecord;
  state.complaints.k1 = { status: 'open' } as unknown as LedgerState['complaints'][string];
  state.complaints.k2 = { status: 'decided' } as unknown as LedgerState['complaints'][string];
  return state;
}

describe('ruling checks', () => {
  it('refuses a ruling on a dispute that is not open, unknown, or named like a prototype key', () => {
    const s = world();
    for (const id of ['d2', 'nope', '__proto__', 'constructor'])
      expect(disputeRulingRefusal(s, id, undefined)?.code, id).toBe('not-open');
    expect(disputeRulingRefusal(s, 'd1', undefined)).toBeUndefined();
  });

  it('bounds a refund by what was paid less what was refunded already', () => {
    const s = world();
    const from = (party: string, amountMinor: number) => ({ from: party, to: 'x', amountMinor });
    expect(disputeRulingRefusal(s, 'd1', from('pt-seller', 700))).toBeUndefined();
    expect(disputeRulingRefusal(s, 'd1', from('pt-seller', 701))).toEqual({
      code: 'refund-above-bound',
      message: 'a refund from pt-seller is at most 700',
    });
    expect(disputeRulingRefusal(s, 'd1', from('pt-buyer', 200))).toBeUndefined();
    expect(disputeRulingRefusal(s, 'd1', from('pt-buyer', 201))?.code).toBe('refund-above-bound');
  });

  it('refuses a decision on a complaint that is not open', () => {
    const s = world();
    expect(complaintDecisionRefusal(s, 'k1')).toBeUndefined();
    for (const id of ['k2', 'nope', '__proto__'])
      expect(complaintDecisionRefusal(s, id)?.code, id).toBe('not-open');
  });
});
