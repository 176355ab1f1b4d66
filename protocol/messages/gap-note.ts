// Ledger entry (hub-signed): a gateway's messages from..to (inclusive) had not arrived when the
// hub appended seq to + 1. The chain continues after the gap; a missing message that arrives later
// may still be appended if it links (docs/ledger.md, "Chains").
import { z } from 'zod';
import { gatewayId, nonNegativeInt, parseWith, type RuleIssue, text, utcMs, withRules } from './common.js';

export const GAP_NOTE_TYP = 'wattproof.gap-note.v1';

const structure = z.strictObject({
  gw: gatewayId,
  /** First missing seq. */
  from: nonNegativeInt,
  /** Last missing seq (≥ from). */
  to: nonNegativeInt,
  reason: text(500).optional(),
  at: utcMs,
});

function rules(v: z.output<typeof structure>): RuleIssue[] {
  if (v.to < v.from) return [{ path: ['to'], message: 'must be ≥ from' }];
  return [];
}

export const gapNoteSchema = withRules(structure, rules);
export type GapNote = z.output<typeof gapNoteSchema>;

export function parseGapNote(payload: unknown) {
  return parseWith(gapNoteSchema, payload);
}
