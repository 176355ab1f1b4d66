// A contract the hub sends on gw/{id}/cmd/contract: the signed contract in JWS JSON general
// serialisation (both parties' signatures over one payload). What the agent can check, it checks:
//  - the JSON and its shape (signedContractSchema), and exactly two signatures;
//  - each signature's protected header: EdDSA, typ contract, the seller's kid first and the
//    buyer's second, and a signature of 64 bytes;
//  - the payload against the contract schema (an energy contract: the only product with a
//    fulfilment event), and that this gateway is one of its delivery points.
// What it cannot check: the Ed25519 signatures themselves. A participant id is a hash of the
// party's key, and the agent holds no registry of participant keys. It relies on the hub, which
// verified both signatures against its registry before the contract entered the ledger, and on
// the broker's ACL, which lets only the hub publish to a gateway's cmd/ topics. A contract forged
// past both would only make this gateway sign an event about its own measurements for a contract
// id the ledger does not know; the hub refuses that event and no money moves.
//
// A market-made contract comes instead as the hub-signed market-match entry (one signature, typ
// market-match; market-match.ts): that one is verified with the hub's key from enrolment, and the
// match's contract id must be the hash of the contract it carries. The same energy and delivery
// point checks follow.
import { b64url, decodeJwsUnverified } from '../../protocol/index.js';
import { CONTRACT_TYP, type SignedContract, signedContractSchema } from '../../protocol/messages/index.js';
import { type HubKey, marketMatchCompact, openMarketMatch } from './market-match.js';
import { type WatchedContract, watchedContractFrom } from './watcher-core.js';

export type ReceivedContract = { ok: true; watched: WatchedContract } | { ok: false; reason: string };

const ED25519_SIGNATURE_BYTES = 64;

function deliveredHere(watched: WatchedContract, gatewayId: string): ReceivedContract {
  const { contract } = watched;
  const points = [...contract.deliveryPoints.seller, ...contract.deliveryPoints.buyer];
  if (!points.some((p) => p.gw === gatewayId))
    return { ok: false, reason: `this gateway (${gatewayId}) is not a delivery point of the contract` };
  return { ok: true, watched };
}

/**
 * Checks a contract command's payload (UTF-8 JSON text) for the gateway `gatewayId`. `hub` is the
 * hub's key from enrolment, for market-made contracts (null: not enrolled; those are refused).
 */
export function receiveContract(text: string, gatewayId: string, hub: HubKey | null): ReceivedContract {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'the contract command is not JSON' };
  }
  const shape = signedContractSchema.safeParse(json);
  if (!shape.success)
    return {
      ok: false,
      reason: `not a signed contract (JWS JSON general serialisation): ${shape.error.issues
        .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
        .join('; ')}`,
    };
  const signed: SignedContract = shape.data;
  if (marketMatchCompact(signed) !== undefined) {
    const m = openMarketMatch(signed, hub);
    if (m.kind === 'refused') return { ok: false, reason: m.reason };
    if (m.kind === 'ok') {
      if (m.contract.product !== 'energy')
        return {
          ok: false,
          reason: `contract payload: ${m.contract.product} contracts have no fulfilment event yet`,
        };
      return deliveredHere({ id: m.id, contract: m.contract }, gatewayId);
    }
  }
  if (signed.signatures.length !== 2)
    return {
      ok: false,
      reason: `${signed.signatures.length} signature; an active contract carries the seller's and the buyer's`,
    };
  const w = watchedContractFrom(signed);
  if (!w.ok) return { ok: false, reason: `contract payload: ${w.reason}` };
  const { contract } = w.watched;
  const parties = [contract.seller, contract.buyer] as const;
  for (const [i, sig] of signed.signatures.entries()) {
    const who = i === 0 ? 'seller' : 'buyer';
    const decoded = decodeJwsUnverified(`${sig.protected}.${signed.payload}.${sig.signature}`);
    if (decoded === undefined)
      return { ok: false, reason: `signature ${i}: the JWS header or payload is malformed` };
    if (decoded.header.typ !== CONTRACT_TYP)
      return { ok: false, reason: `signature ${i}: typ "${decoded.header.typ}", expected ${CONTRACT_TYP}` };
    if (decoded.header.kid !== parties[i])
      return {
        ok: false,
        reason: `signature ${i} is by ${decoded.header.kid}; it must be the ${who}'s (${parties[i]})`,
      };
    if (b64url.decode(sig.signature).length !== ED25519_SIGNATURE_BYTES)
      return { ok: false, reason: `signature ${i} is not ${ED25519_SIGNATURE_BYTES} bytes (Ed25519)` };
  }
  return deliveredHere(w.watched, gatewayId);
}
