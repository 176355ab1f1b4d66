// A market-made contract as the hub sends it on gw/{id}/cmd/contract: the hub-signed market-match
// entry that carries the contract in full, in JWS JSON general serialisation with one signature.
// It has no party signatures (the signed orders authorised it on the hub), so the gateway checks
// what it can: the hub's signature with the key it learned at enrolment (hubId, hubPublicKey in the
// credentials file), and that the match's contract id is the hash of the contract it carries.
// Shared by the contract watcher (energy) and dispatch (flexibility).
import { decodeJwsUnverified, verifyJws } from '../../protocol/index.js';
import {
  type Contract,
  contractIdOf,
  contractPayloadSegment,
  formatIssues,
  MARKET_MATCH_TYP,
  parseMarketMatch,
  type SignedContract,
} from '../../protocol/messages/index.js';

/** The hub's signing key, as the gateway learned it at enrolment. */
export interface HubKey {
  hubId: string;
  publicKey: Uint8Array;
}

export type OpenedMatch =
  /** Not a market-match entry (not one signature with typ market-match). */
  | { kind: 'not-a-match' }
  | { kind: 'refused'; reason: string }
  | { kind: 'ok'; id: string; contract: Contract };

/** The compact JWS of a one-signature general serialisation whose header says market-match. */
export function marketMatchCompact(signed: SignedContract): string | undefined {
  if (signed.signatures.length !== 1) return undefined;
  const sig = signed.signatures[0];
  if (sig === undefined) return undefined;
  const compact = `${sig.protected}.${signed.payload}.${sig.signature}`;
  return decodeJwsUnverified(compact)?.header.typ === MARKET_MATCH_TYP ? compact : undefined;
}

/** The contract a market match carries, unverified (to route it before checking it). */
export function matchContractUnverified(signed: SignedContract): Contract | undefined {
  const compact = marketMatchCompact(signed);
  if (compact === undefined) return undefined;
  const m = parseMarketMatch(decodeJwsUnverified(compact)?.payload);
  return m.ok ? m.value.contract : undefined;
}

/** Verifies a market match with the hub's key (null: not enrolled, refused) and its contract id. */
export function openMarketMatch(signed: SignedContract, hub: HubKey | null): OpenedMatch {
  const compact = marketMatchCompact(signed);
  if (compact === undefined) return { kind: 'not-a-match' };
  if (hub === null)
    return {
      kind: 'refused',
      reason:
        'no hub key to check the market match with (enrol the gateway again with `wattproof-agent enroll`)',
    };
  const v = verifyJws(compact, {
    typ: MARKET_MATCH_TYP,
    kid: hub.hubId,
    publicKeyFor: (kid) => (kid === hub.hubId ? hub.publicKey : undefined),
  });
  if (!v.ok) return { kind: 'refused', reason: `market match: ${v.detail}` };
  const m = parseMarketMatch(v.payload);
  if (!m.ok) return { kind: 'refused', reason: `market match: ${formatIssues(m.issues)}` };
  const { contract, contractId } = m.value;
  const id = contractIdOf(contractPayloadSegment(contract));
  if (id !== contractId)
    return { kind: 'refused', reason: `the match names ${contractId}; its contract hashes to ${id}` };
  return { kind: 'ok', id, contract };
}
