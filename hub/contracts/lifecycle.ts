// The contract lifecycle. Every transition is caused by one ledger entry; this table is the whole
// of what may follow what (docs/contracts.md, "Lifecycle").
//
//   signing ──(2nd signature)──► proposed ──(review)──► approved ──(activation)──► active
//                                    │                     │                        │
//                                    └──(review)──► refused │                        │(first in-window proof)
//                                                           ▼                        ▼
//   signing|proposed|approved|active ──(both cancel)──► cancelled            delivering
//                                                                                    │(settlement)
//   active|delivering ──(settlement)──► settled ──(close, after the dispute window)──► closed

export const CONTRACT_STATUSES = [
  'signing',
  'proposed',
  'approved',
  'refused',
  'active',
  'delivering',
  'settled',
  'closed',
  'cancelled',
] as const;
export type ContractStatus = (typeof CONTRACT_STATUSES)[number];

/** What causes a transition: the entry kind. */
export type TransitionCause =
  | 'signature'
  | 'review-approved'
  | 'review-refused'
  | 'activation'
  | 'proof'
  | 'settlement'
  | 'cancellation'
  | 'close';

const TRANSITIONS: Record<TransitionCause, Partial<Record<ContractStatus, ContractStatus>>> = {
  signature: { signing: 'proposed' },
  'review-approved': { proposed: 'approved' },
  'review-refused': { proposed: 'refused' },
  activation: { approved: 'active' },
  proof: { active: 'delivering' },
  settlement: { active: 'settled', delivering: 'settled' },
  cancellation: { signing: 'cancelled', proposed: 'cancelled', approved: 'cancelled', active: 'cancelled' },
  close: { settled: 'closed' },
};

/** The status after `cause` in status `from`, or undefined when the transition is illegal. */
export function nextStatus(from: ContractStatus, cause: TransitionCause): ContractStatus | undefined {
  return TRANSITIONS[cause][from];
}

/** Statuses in which proofs of the contract's delivery points are collected. */
export const COLLECTING: readonly ContractStatus[] = [
  'signing',
  'proposed',
  'approved',
  'active',
  'delivering',
];

/** Statuses in which nothing can happen to the contract any more (except disputes on settled). */
export const FINAL: readonly ContractStatus[] = ['refused', 'closed', 'cancelled'];
