// The codes a gateway refuses a dispatch command with, as one closed list: the checks can only
// name one of these (the compiler holds them to it), so the metrics' `reason` label stays a bounded
// set. docs/markets.md, "Dispatch", says when each is used.
import type { Reason } from '../../protocol/messages/index.js';

export const REFUSAL_CODES = [
  'hub-key-unknown',
  'bad-signature',
  'not-from-hub',
  'malformed',
  'wrong-gateway',
  'replay',
  'expired',
  'unknown-contract',
  'not-seller',
  'contract-ended',
  'outside-window',
  'above-contract-power',
  'writes-disabled',
  'above-local-limit',
  'no-battery',
  'battery-unreachable',
  'soc-too-low',
  'soc-too-high',
  'soc-unknown',
  'write-failed',
] as const;

export type RefusalCode = (typeof REFUSAL_CODES)[number];

/** A refusal's reason, its code one of REFUSAL_CODES. */
export interface Refusal extends Reason {
  code: RefusalCode;
}
