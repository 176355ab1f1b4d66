// What ingest needs verified about one message, as a pure function of data, so it can run on the
// main thread or in worker threads (verify-pool.ts) with the same result: protocol's
// verifyMessage (every JWS rule, known typ, signer kind, schema, payload gw = kid) with the
// node:crypto signature check.
import { decodeJwsUnverified, idKind } from '../../protocol/index.js';
import {
  formatIssues,
  MESSAGE_TYPES,
  METER_PROOF_TYP,
  parsePayload,
  verifyMessage,
} from '../../protocol/messages/index.js';
import type { Ed25519Verifier } from './fast-verify.js';
import { acceptMeterProof } from './meter-proof-fast.js';

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
  const checked =
    job.typs.length === 1 && job.typs[0] === METER_PROOF_TYP
      ? verifyMeterProof(job, verifier)
      : verifyMessage(job.text, {
          typ: job.typs,
          kid: job.kid,
          publicKeyFor: (kid) => (kid === job.kid ? job.publicKey : undefined),
          verifySignature: verifier.verifyBytes,
        });
  if (checked.ok) return { ok: true, typ: checked.typ, payload: checked.payload };
  const seq = seqOf(job.text);
  return { ok: false, reason: checked.reason, detail: checked.detail, ...(seq !== undefined ? { seq } : {}) };
}

type Checked = { ok: true; typ: string; payload: unknown } | { ok: false; reason: string; detail: string };

/**
 * verifyMessage for the meter-proof topic, step for step (JWS rules with typ and kid, signer kind,
 * schema, payload gw = kid), with the schema checked first by the hand-written acceptMeterProof
 * and by zod only when that does not accept (zod then decides, and names the fields).
 */
function verifyMeterProof(job: VerifyJob, verifier: Ed25519Verifier): Checked {
  const v = verifier.verifyJws(job.text, {
    typ: METER_PROOF_TYP,
    kid: job.kid,
    publicKeyFor: (kid) => (kid === job.kid ? job.publicKey : undefined),
  });
  if (!v.ok) return v;
  const signer = MESSAGE_TYPES[METER_PROOF_TYP].signer;
  if (idKind(v.header.kid) !== signer)
    return {
      ok: false,
      reason: 'signer-kind',
      detail: `a ${METER_PROOF_TYP} is signed by a ${signer}- key, not "${v.header.kid}"`,
    };
  let payload: { gw: string } | undefined = acceptMeterProof(v.payload);
  if (!payload) {
    const parsed = parsePayload(METER_PROOF_TYP, v.payload);
    if (!parsed.ok) return { ok: false, reason: 'schema', detail: formatIssues(parsed.issues) };
    payload = parsed.value;
  }
  if (payload.gw !== v.header.kid)
    return {
      ok: false,
      reason: 'gw-mismatch',
      detail: `payload gw "${payload.gw}" is not the signer "${v.header.kid}"`,
    };
  return { ok: true, typ: METER_PROOF_TYP, payload };
}
