// Inclusion proofs checked in the browser with the protocol's own code (the same merkle.ts and
// checkpoint.ts every verifier uses): the checkpoint's signature against the pinned log verifier
// key, the leaf hash recomputed from the entry's bytes, and the RFC 9162 audit path to the root.
import { b64url, utf8 } from '../../../protocol/bytes.js';
import { openCheckpoint, parseNoteVerifierKey } from '../../../protocol/checkpoint.js';
import { leafHash, verifyInclusion } from '../../../protocol/merkle.js';

export interface InclusionAnswer {
  index: number;
  jws: string;
  leafHash: string;
  size: number;
  checkpoint: string;
  proof: string[];
}

export interface VerifyStep {
  what: string;
  ok: boolean;
  detail: string;
}

export function verifyInclusionAnswer(
  a: InclusionAnswer,
  verifierKey: string,
): { ok: boolean; steps: VerifyStep[] } {
  const steps: VerifyStep[] = [];
  let verifier: ReturnType<typeof parseNoteVerifierKey>;
  try {
    verifier = parseNoteVerifierKey(verifierKey);
  } catch (err) {
    steps.push({ what: 'verifier key', ok: false, detail: (err as Error).message });
    return { ok: false, steps };
  }
  const cp = openCheckpoint(a.checkpoint, [verifier]);
  if (!cp.ok) {
    steps.push({ what: 'checkpoint signature', ok: false, detail: cp.reason });
    return { ok: false, steps };
  }
  steps.push({
    what: 'checkpoint signature',
    ok: true,
    detail: `signed by ${cp.signedBy.join(', ')}; size ${cp.checkpoint.size}`,
  });
  if (cp.checkpoint.size !== a.size) {
    steps.push({
      what: 'tree size',
      ok: false,
      detail: `proof for ${a.size}, checkpoint says ${cp.checkpoint.size}`,
    });
    return { ok: false, steps };
  }
  const lh = leafHash(utf8(a.jws));
  const lhText = b64url.encode(lh);
  const leafOk = lhText === a.leafHash;
  steps.push({
    what: 'leaf hash',
    ok: leafOk,
    detail: leafOk
      ? `SHA-256(0x00 ‖ entry bytes) = ${lhText}`
      : `recomputed ${lhText}, hub says ${a.leafHash}`,
  });
  if (!leafOk) return { ok: false, steps };
  let proof: Uint8Array[];
  try {
    proof = a.proof.map((p) => b64url.decode(p));
  } catch {
    steps.push({ what: 'inclusion proof', ok: false, detail: 'a proof hash is not base64url' });
    return { ok: false, steps };
  }
  const incl = verifyInclusion(lh, a.index, a.size, proof, cp.checkpoint.root);
  steps.push({
    what: 'inclusion proof',
    ok: incl,
    detail: incl
      ? `${proof.length} hashes lead from leaf ${a.index} to the signed root of ${a.size} entries`
      : 'the audit path does not lead to the signed root',
  });
  return { ok: incl, steps };
}
