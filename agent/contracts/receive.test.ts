// What the agent accepts on gw/{id}/cmd/contract, and every way it refuses: each refusal names
// what was wrong, so a mis-sent or tampered command is explained in the agent's log.
import { describe, expect, it } from 'vitest';
import { b64url } from '../../protocol/index.js';
import {
  exampleEnergyContract,
  exampleKey,
  EXAMPLE_KEYS as K,
} from '../../protocol/messages/examples.js';
import { contractIdOf, type SignedContract, signContract } from '../../protocol/messages/index.js';
import { receiveContract } from './receive.js';

function signedBoth(contract = exampleEnergyContract()): SignedContract {
  return signContract(signContract(contract, K.seller.id, K.seller.secretKey), K.buyer.id, K.buyer.secretKey);
}

const text = (v: unknown) => JSON.stringify(v);
const gwA = K.gatewayA.id;

function refused(payload: string, gw = gwA): string {
  const r = receiveContract(payload, gw);
  if (r.ok) throw new Error('expected a refusal');
  return r.reason;
}

describe('receiveContract', () => {
  it('accepts a contract signed by seller then buyer for one of its delivery points', () => {
    const signed = signedBoth();
    const r = receiveContract(text(signed), gwA);
    expect(r).toEqual({ ok: true, watched: { id: contractIdOf(signed), contract: exampleEnergyContract() } });
    // The buyer's gateway is a delivery point too.
    expect(receiveContract(text(signed), K.gatewayB.id).ok).toBe(true);
  });

  it('refuses text that is not JSON', () => {
    expect(refused('{"payload":')).toBe('the contract command is not JSON');
  });

  it('refuses JSON that is not a signed contract, naming the field', () => {
    expect(refused(text({ payload: 'abc' }))).toMatch(/^not a signed contract .*signatures/);
    expect(refused(text({ ...signedBoth(), extra: 1 }))).toMatch(/^not a signed contract/);
  });

  it('refuses a contract with only the seller signature', () => {
    const one = signContract(exampleEnergyContract(), K.seller.id, K.seller.secretKey);
    expect(refused(text(one))).toMatch(/^1 signature; an active contract carries/);
  });

  it('refuses a payload that is not a valid energy contract', () => {
    const signed = signedBoth();
    expect(refused(text({ ...signed, payload: b64url.encode(new TextEncoder().encode('{}')) }))).toMatch(
      /^contract payload:/,
    );
  });

  it('refuses signatures in the wrong order (buyer first)', () => {
    const signed = signedBoth();
    const swapped = { ...signed, signatures: [signed.signatures[1], signed.signatures[0]] };
    expect(refused(text(swapped))).toMatch(/^signature 0 is by pt-.*it must be the seller's/);
  });

  it('refuses a signature by someone who is not a party', () => {
    const byOther = signContract(
      signContract(exampleEnergyContract(), K.seller.id, K.seller.secretKey),
      K.gatewayA.id,
      K.gatewayA.secretKey,
    );
    expect(refused(text(byOther))).toMatch(/^signature 1 is by gw-.*the buyer's/);
  });

  it('refuses a header with another typ', () => {
    const signed = signedBoth();
    const [first, second] = signed.signatures;
    if (!first || !second) throw new Error('two signatures expected');
    const header = JSON.parse(new TextDecoder().decode(b64url.decode(first.protected)));
    const wrongTyp = b64url.encode(new TextEncoder().encode(JSON.stringify({ ...header, typ: 'other' })));
    expect(refused(text({ ...signed, signatures: [{ ...first, protected: wrongTyp }, second] }))).toMatch(
      /^signature 0: typ "other"/,
    );
  });

  it('refuses a malformed header and a short signature', () => {
    const signed = signedBoth();
    const [first, second] = signed.signatures;
    if (!first || !second) throw new Error('two signatures expected');
    expect(
      refused(text({ ...signed, signatures: [{ ...first, protected: 'bm90LWpzb24' }, second] })),
    ).toMatch(/^signature 0: the JWS header or payload is malformed/);
    const short = b64url.encode(new Uint8Array(32));
    expect(refused(text({ ...signed, signatures: [first, { ...second, signature: short }] }))).toMatch(
      /^signature 1 is not 64 bytes/,
    );
  });

  it('refuses a contract for which this gateway is not a delivery point', () => {
    expect(refused(text(signedBoth()), exampleKey('gateway-c', 'gw').id)).toMatch(
      /is not a delivery point of the contract$/,
    );
  });
});
