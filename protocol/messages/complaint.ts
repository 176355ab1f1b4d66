// A participant's complaint about another participant (kid = complainant). It is recorded in the
// validator's queue; the validator answers with a complaint decision (subject: this entry's hash).
import { z } from 'zod';
import {
  contractId,
  hash32,
  parseWith,
  participantId,
  type RuleIssue,
  text,
  uniqueRules,
  utcMs,
  withRules,
} from './common.js';

export const COMPLAINT_TYP = 'wattproof.complaint.v1';

const structure = z.strictObject({
  complainant: participantId,
  /** The participant complained about. */
  about: participantId,
  /** The contract it concerns, when there is one. */
  contract: contractId.optional(),
  text: text(2000),
  /** Message hashes of ledger entries that support it (may be empty). */
  evidence: z.array(hash32).max(100),
  at: utcMs,
});

export const complaintSchema = withRules(structure, (v): RuleIssue[] => {
  const out = uniqueRules(v.evidence, ['evidence']);
  if (v.about === v.complainant) out.push({ path: ['about'], message: 'must be another participant' });
  return out;
});
export type Complaint = z.output<typeof complaintSchema>;

export function parseComplaint(payload: unknown) {
  return parseWith(complaintSchema, payload);
}
