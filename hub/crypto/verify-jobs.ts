// What ingest needs verified about one message, as a pure function of data, so it can run on the
// main thread or in worker threads (verify-pool.ts) with the same result: protocol's
// verifyMessage (every JWS rule, known typ, signer kind, schema, payload gw = kid) with the
// node:crypto signature check.
import { decodeJwsUnverified } from '../../protocol/index.js';
import { verifyMessage } from '../../protocol/messages/index.js';
import type { Ed25519Verifier } from './fast-verify.js';

export interface VerifyJob {
  /** The payload as UTF-8 text (the compact JWS, if it is one). */
  text: string;
  /** The typs accepted on the topic it came on. */
  typs: readonly string[];
  /** The gateway id of the topic: the only acceptable kid. */
  kid: string;
  /** The key bound to that id. */
  publicKey: Uint8Array;
}

export type VerifyOutcome =
  | { ok: true; typ: string; payload: unknown }
  | { ok: false; reason: string; detail: string; seq?: number };

function seqOf(text: string): number | undefined {
  const p = decodeJwsUnverified(text)?.payload as { seq?: unknown } | undefined;
  return typeof p?.seq === 'number' && Number.isSafeInteger(p.seq) && p.seq >= 0 ? p.seq : undefined;
}

export function verifyJob(job: VerifyJob, verifier: Ed25519Verifier): VerifyOutcome {
  const checked = verifyMessage(job.text, {
    typ: job.typs,
    kid: job.kid,
    publicKeyFor: (kid) => (kid === job.kid ? job.publicKey : undefined),
    verifySignature: verifier.verifyBytes,
  });
  if (checked.ok) return { ok: true, typ: checked.typ, payload: checked.payload };
  const seq = seqOf(job.text);
  return { ok: false, reason: checked.reason, detail: checked.detail, ...(seq !== undefined ? { seq } : {}) };
}
