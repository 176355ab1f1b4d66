// A party's dispute of a settled contract (kid = party), opened within the contract's dispute
// window, with a claim and the message hashes of the ledger entries it rests on. The validator
// rules on it with a dispute decision whose subject is this entry's message hash.
import { z } from 'zod';
import {
  contractId,
  hash32,
  nonNegativeInt,
  parseWith,
  participantId,
  type RuleIssue,
  text,
  uniqueRules,
  utcMs,
  withRules,
} from './common.js';

export const DISPUTE_TYP = 'wattproof.dispute.v1';

const structure = z.strictObject({
  contract: contractId,
  /** The party opening the dispute: the seller or the buyer, equal to the signer. */
  party: participantId,
  /** What the party claims, for people. */
  claim: text(2000),
  /** The amount the party asks back, minor units (0 = no money claimed). */
  claimMinor: nonNegativeInt,
  /** Message hashes of the ledger entries the claim rests on (proofs, events, the settlement). */
  evidence: z.array(hash32).min(1, 'must cite at least one ledger entry').max(100),
  at: utcMs,
});

export const disputeSchema = withRules(structure, (v): RuleIssue[] => uniqueRules(v.evidence, ['evidence']));
export type Dispute = z.output<typeof disputeSchema>;

export function parseDispute(payload: unknown) {
  return parseWith(disputeSchema, payload);
}
