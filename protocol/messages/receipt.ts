// The hub's receipt, on gw/{id}/receipt. It is plain JSON, not a JWS: an accepted or duplicate
// receipt proves itself, because it carries the hub-signed checkpoint and the inclusion proof of
// the leaf in it (see docs/hub.md, "Receipts"). A rejected receipt proves nothing and says why.
import { z } from 'zod';
import { gatewayId, hash32, nonNegativeInt, parseWith, type RuleIssue, text, withRules } from './common.js';

/** Not a JWS typ (receipts are unsigned JSON); names the shape in the topic map and docs. */
export const RECEIPT_KIND = 'wattproof.receipt.v1';

const code = z.string().regex(/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/, 'must be a kebab-case reason code');

const inLedger = z.strictObject({
  status: z.enum(['accepted', 'duplicate']),
  gw: gatewayId,
  seq: nonNegativeInt,
  /** base64url SHA-256 of the compact JWS the receipt is for. */
  messageHash: hash32,
  /** The leaf index of the entry in the ledger. */
  index: nonNegativeInt,
  /** base64url leaf hash: SHA-256(0x00 || ASCII compact JWS). */
  leafHash: hash32,
  /** The C2SP signed checkpoint that covers the entry (size > index). */
  checkpoint: z.string().min(1).max(8192),
  /** The inclusion proof of the leaf in that checkpoint's tree, base64url hashes, bottom first. */
  inclusionProof: z.array(hash32).max(64),
});

const rejected = z.strictObject({
  status: z.literal('rejected'),
  gw: gatewayId,
  /** Absent when the payload could not be read. */
  seq: nonNegativeInt.optional(),
  messageHash: hash32,
  reason: code,
  detail: text(1000),
});

/** The tree size line of a checkpoint text, without checking its signature. */
export function checkpointSizeOf(note: string): number | undefined {
  const line = note.split('\n')[1];
  if (line === undefined || !/^(0|[1-9][0-9]*)$/.test(line)) return undefined;
  const n = Number(line);
  return Number.isSafeInteger(n) ? n : undefined;
}

function rules(v: z.output<typeof inLedger> | z.output<typeof rejected>): RuleIssue[] {
  if (v.status === 'rejected') return [];
  const size = checkpointSizeOf(v.checkpoint);
  if (size === undefined)
    return [
      { path: ['checkpoint'], message: 'must be a C2SP checkpoint (origin, tree size, root hash lines)' },
    ];
  if (size <= v.index)
    return [
      { path: ['checkpoint'], message: `covers ${size} leaves, so it does not cover index ${v.index}` },
    ];
  return [];
}

export const receiptSchema = withRules(z.discriminatedUnion('status', [inLedger, rejected]), rules);
export type Receipt = z.output<typeof receiptSchema>;
export type LedgerReceipt = z.output<typeof inLedger>;
export type RejectedReceipt = z.output<typeof rejected>;

export function parseReceipt(payload: unknown) {
  return parseWith(receiptSchema, payload);
}
