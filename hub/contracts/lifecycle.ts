// The contract lifecycle. Every transition is caused by one ledger entry; this table is the whole
// of what may follow what (docs/contracts.md, "Lifecycle"; docs/validator.md for stop, deregistration
// and disputes).
//
//   signing ──(2nd signature)──► proposed ──(review)──► approved ──(activation)──► active
//                                    │                     │                        │
//                                    └──(review)──► refused │                        │(first in-window proof)
//                                                           ▼                        ▼
//   signing|proposed|approved|active ──(both cancel / deregistration)──► cancelled  delivering
//                                                                                    │(settlement)
//   active|delivering ──(settlement)──► settled ──(close, after the dispute window)──► closed
//   settled ──(dispute)──► disputed ──(last open dispute ruled)──► settled
//   approved|active ──(validator stop, nothing delivered yet)──► stopped
//   active|delivering ──(validator stop or deregistration mid-window)──► stopping ──(settlement)──► settled

export const CONTRACT_STATUSES = [
  'signing',
  'proposed',
  'approved',
  'refused',
  'active',
  'delivering',
  'stopping',
  'settled',
  'disputed',
  'closed',
  'cancelled',
  'stopped',
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
  | 'deregistration'
  | 'stop-release'
  | 'stop-collect'
  | 'dispute'
  | 'ruling'
  | 'close';

const TRANSITIONS: Record<TransitionCause, Partial<Record<ContractStatus, ContractStatus>>> = {
  signature: { signing: 'proposed' },
  'review-approved': { proposed: 'approved' },
  'review-refused': { proposed: 'refused' },
  activation: { approved: 'active' },
  proof: { active: 'delivering' },
  settlement: { active: 'settled', delivering: 'settled', stopping: 'settled' },
  cancellation: { signing: 'cancelled', proposed: 'cancelled', approved: 'cancelled', active: 'cancelled' },
  deregistration: {
    signing: 'cancelled',
    proposed: 'cancelled',
    approved: 'cancelled',
    active: 'cancelled',
  },
  'stop-release': { approved: 'stopped', active: 'stopped', delivering: 'stopped' },
  'stop-collect': { active: 'stopping', delivering: 'stopping' },
  dispute: { settled: 'disputed', disputed: 'disputed' },
  ruling: { disputed: 'settled' },
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
  'stopping',
];

/** Statuses in which nothing can happen to the contract any more. */
export const FINAL: readonly ContractStatus[] = ['refused', 'closed', 'cancelled', 'stopped'];

/** Statuses of a contract that a deregistration or a stop still has to end. */
export const OPEN: readonly ContractStatus[] = ['signing', 'proposed', 'approved', 'active', 'delivering'];
