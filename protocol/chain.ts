// Each gateway's signed messages form one chain: `seq` counts 0, 1, 2, … without gaps or
// repeats and `prev` is the message hash of the gateway's previous chained message (null at 0).
import { b64url, utf8 } from './bytes.js';
import { sha256 } from './hash.js';

/** SHA-256 of the exact compact JWS text (ASCII), as it travels and is stored. */
export function messageHash(compact: string): Uint8Array {
  return sha256(utf8(compact));
}

/** The message hash in the form payloads carry it (`prev`, receipts): base64url, no padding. */
export function messageHashB64(compact: string): string {
  return b64url.encode(messageHash(compact));
}

export interface ChainLink {
  seq: number;
  prev: string | null;
}

export interface ChainHead {
  /** The sequence number of the last accepted message. */
  seq: number;
  /** Its message hash, base64url. */
  hash: string;
}

export type ChainCheck =
  | { ok: true }
  | {
      ok: false;
      reason: 'genesis-prev' | 'bad-seq' | 'gap' | 'replay-or-fork' | 'prev-mismatch';
      detail: string;
    };

/**
 * Whether `next` continues a chain whose last accepted message is `head` (undefined: nothing yet).
 * 'gap' means seq is ahead of head.seq + 1; 'replay-or-fork' means seq was already used.
 */
export function checkChainLink(head: ChainHead | undefined, next: ChainLink): ChainCheck {
  if (!Number.isSafeInteger(next.seq) || next.seq < 0) {
    return { ok: false, reason: 'bad-seq', detail: `seq ${next.seq} is not a non-negative integer` };
  }
  if (head === undefined) {
    if (next.seq === 0) {
      return next.prev === null
        ? { ok: true }
        : { ok: false, reason: 'genesis-prev', detail: 'the first message (seq 0) has prev null' };
    }
    return { ok: false, reason: 'gap', detail: `seq ${next.seq} arrived before seq 0` };
  }
  if (next.seq <= head.seq) {
    return {
      ok: false,
      reason: 'replay-or-fork',
      detail: `seq ${next.seq} is at or below the head ${head.seq}`,
    };
  }
  if (next.seq > head.seq + 1) {
    return { ok: false, reason: 'gap', detail: `seq ${next.seq} skips ${head.seq + 1}..${next.seq - 1}` };
  }
  if (next.prev !== head.hash) {
    return { ok: false, reason: 'prev-mismatch', detail: `prev does not name the hash of seq ${head.seq}` };
  }
  return { ok: true };
}
