// Flexibility contracts off gw/{id}/cmd/contract: the contract watcher takes energy contracts (they
// have fulfilment events); flexibility contracts come here, so dispatch commands can be checked
// against them. The same checks as agent/contracts/receive.ts: two signatures, the seller's then
// the buyer's, by their kids; the payload a flexibility contract; this gateway a seller point.
// A market-made contract comes as the hub-signed market-match entry (one signature): that one is
// verified with the hub's key, and its contract id must be the hash of the contract it carries.
import { b64url, decodeJwsUnverified } from '../../protocol/index.js';
import {
  CONTRACT_TYP,
  contractIdOf,
  type FlexibilityContract,
  parseContract,
  type SignedContract,
  signedContractSchema,
} from '../../protocol/messages/index.js';
import { matchContractUnverified, openMarketMatch } from '../contracts/market-match.js';
import type { HubKey } from './receive.js';

export type OfferedContract =
  | { kind: 'flexibility'; id: string; contract: FlexibilityContract }
  | { kind: 'not-mine'; reason: string }
  | { kind: 'other' };

/** `other`: not a flexibility contract (leave it to the contract watcher). */
export function flexibilityContractOf(text: string, gatewayId: string, hub: HubKey | null): OfferedContract {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { kind: 'other' };
  }
  const shape = signedContractSchema.safeParse(json);
  if (!shape.success) return { kind: 'other' };
  if (shape.data.signatures.length === 1) return fromMatch(shape.data, gatewayId, hub);
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(b64url.decode(shape.data.payload)).toString('utf8'));
  } catch {
    return { kind: 'other' };
  }
  const p = parseContract(payload);
  if (!p.ok || p.value.product !== 'flexibility') return { kind: 'other' };
  const c = p.value;
  const signed = shape.data;
  if (signed.signatures.length !== 2)
    return { kind: 'not-mine', reason: 'an active contract carries the seller’s and the buyer’s signatures' };
  const parties = [c.seller, c.buyer];
  for (const [i, sig] of signed.signatures.entries()) {
    const d = decodeJwsUnverified(`${sig.protected}.${signed.payload}.${sig.signature}`);
    if (d === undefined || d.header.typ !== CONTRACT_TYP || d.header.kid !== parties[i])
      return {
        kind: 'not-mine',
        reason: `signature ${i} is not the ${i === 0 ? 'seller' : 'buyer'}’s contract signature`,
      };
  }
  if (!c.deliveryPoints.seller.some((d) => d.gw === gatewayId))
    return { kind: 'not-mine', reason: `this gateway (${gatewayId}) is not a seller delivery point` };
  return { kind: 'flexibility', id: contractIdOf(signed), contract: c };
}

/** A market-made contract: the hub-signed match entry carrying it (../contracts/market-match.ts). */
function fromMatch(signed: SignedContract, gatewayId: string, hub: HubKey | null): OfferedContract {
  if (matchContractUnverified(signed)?.product !== 'flexibility') return { kind: 'other' };
  const m = openMarketMatch(signed, hub);
  if (m.kind === 'not-a-match') return { kind: 'other' };
  if (m.kind === 'refused') return { kind: 'not-mine', reason: m.reason };
  const c = m.contract;
  if (c.product !== 'flexibility') return { kind: 'other' };
  if (!c.deliveryPoints.seller.some((d) => d.gw === gatewayId))
    return { kind: 'not-mine', reason: `this gateway (${gatewayId}) is not a seller delivery point` };
  return { kind: 'flexibility', id: m.id, contract: c };
}
