// Flexibility contracts off gw/{id}/cmd/contract: the contract watcher takes energy contracts (they
// have fulfilment events); flexibility contracts come here, so dispatch commands can be checked
// against them. The same checks as agent/contracts/receive.ts: two signatures, the seller's then
// the buyer's, by their kids; the payload a flexibility contract; this gateway a seller point.
import { b64url, decodeJwsUnverified } from '../../protocol/index.js';
import {
  CONTRACT_TYP,
  contractIdOf,
  type FlexibilityContract,
  parseContract,
  signedContractSchema,
} from '../../protocol/messages/index.js';

export type OfferedContract =
  | { kind: 'flexibility'; id: string; contract: FlexibilityContract }
  | { kind: 'not-mine'; reason: string }
  | { kind: 'other' };

/** `other`: not a flexibility contract (leave it to the contract watcher). */
export function flexibilityContractOf(text: string, gatewayId: string): OfferedContract {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { kind: 'other' };
  }
  const shape = signedContractSchema.safeParse(json);
  if (!shape.success) return { kind: 'other' };
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
