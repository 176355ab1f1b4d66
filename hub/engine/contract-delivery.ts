// What the hub sends a gateway about an active contract on gw/{id}/cmd/contract, and when: once
// at activation, and again at each birth (online status) of the gateway, because the command is
// not retained and a gateway that was offline or connected later would never get it otherwise.
//
// A bilateral contract goes as both parties signed it (JWS JSON general serialisation, seller's
// signature first). A market-made contract has no party signatures: it goes as the hub-signed
// market-match entry that carries it in full, in the same serialisation (one signature, typ
// wattproof.market-match.v1); the receiver checks the hub's signature and takes `contract` from
// the payload, whose id is the hash of its canonical JSON (docs/markets.md, "Sent to gateways").
import { decodeJwsUnverified } from '../../protocol/index.js';
import {
  GATEWAY_STATUS_TYP,
  type SignedContract,
  signedContractFromCompacts,
  verifyMessage,
} from '../../protocol/messages/index.js';
import { parseTopic } from '../../protocol/topics.js';
import type { ContractRecord } from '../contracts/fold.js';

/** Statuses in which a contract is sent to its gateways. */
export const DELIVERED_STATUSES: readonly string[] = ['active', 'delivering'];

/** The gateways of a contract's delivery points (both sides, once each, in order). */
export function gatewaysOf(rec: ContractRecord): string[] {
  const c = rec.contract;
  return [...new Set([...c.deliveryPoints.seller, ...c.deliveryPoints.buyer].map((p) => p.gw))];
}

/** A compact JWS in general JSON serialisation: {payload, signatures: [{protected, signature}]}. */
function generalOf(compact: string): SignedContract {
  return signedContractFromCompacts([compact]);
}

/**
 * The message text for a contract's gateways, or undefined when the entries it rests on are not in
 * the ledger (cannot happen for a folded contract). `jwsAt(i)` reads the leaf at index i.
 */
export function contractMessageOf(
  rec: ContractRecord,
  jwsAt: (index: number) => string | undefined,
): string | undefined {
  if (rec.market !== undefined) {
    const match = jwsAt(rec.market.matchIndex);
    return match === undefined ? undefined : JSON.stringify(generalOf(match));
  }
  const { seller, buyer } = rec.signatures;
  if (seller === null || buyer === null) return undefined;
  const a = jwsAt(seller);
  const b = jwsAt(buyer);
  if (a === undefined || b === undefined) return undefined;
  return JSON.stringify(signedContractFromCompacts([a, b]));
}

/**
 * A gateway's birth from an MQTT message: the gateway and its status time when `topic` is a
 * gateway's status topic and `payload` an online status signed by that gateway's bound key
 * (`keyOf`); undefined for anything else (offline, forged, unbound, malformed).
 */
export function gatewayBirthOf(
  topic: string,
  payload: Uint8Array,
  keyOf: (gw: string) => Uint8Array | undefined,
): { gw: string; at: number } | undefined {
  const parsed = parseTopic(topic);
  if (!parsed.ok || parsed.topic.kind !== 'gw-status') return undefined;
  const gw = parsed.topic.gw;
  const text = Buffer.from(payload).toString('utf8');
  if (decodeJwsUnverified(text)?.header.kid !== gw) return undefined;
  const v = verifyMessage(text, {
    typ: GATEWAY_STATUS_TYP,
    publicKeyFor: (kid) => (kid === gw ? keyOf(gw) : undefined),
  });
  if (!v.ok || v.typ !== GATEWAY_STATUS_TYP) return undefined;
  const s = v.payload as { gw: string; state: string; at: number };
  return s.state === 'online' && s.gw === gw ? { gw, at: s.at } : undefined;
}
