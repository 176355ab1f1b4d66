// What the agent accepts on gw/{id}/cmd/contract, and every way it refuses: each refusal names
// what was wrong, so a mis-sent or tampered command is explained in the agent's log.
import { describe, expect, it } from 'vitest';
import { b64url, signJws } from '../../protocol/index.js';
import { exampleEnergyContract, exampleKey, EXAMPLE_KEYS as K } from '../../protocol/messages/examples.js';
import {
  type Contract,
  contractIdOf,
  contractPayloadSegment,
  MARKET_MATCH_TYP,
  type SignedContract,
  signContract,
  signedContractFromCompacts,
} from '../../protocol/messages/index.js';
import type { HubKey } from './market-match.js';
import { receiveContract } from './receive.js';

function signedBoth(contract = exampleEnergyContract()): SignedContract {
  return signContract(signContract(contract, K.seller.id, K.seller.secretKey), K.buyer.id, K.buyer.secretKey);
}

const text = (v: unknown) => JSON.stringify(v);
const gwA = K.gatewayA.id;
const hubKey: HubKey = { hubId: K.hub.id, publicKey: K.hub.publicKey };

/** A market-made contract as the hub sends it: the hub-signed match entry, one signature. */
function marketMatch(
  contract: Contract = exampleEnergyContract(),
  o: { signer?: typeof K.hub; contractId?: string } = {},
): SignedContract {
  const signer = o.signer ?? K.hub;
  const hash = b64url.encode(new Uint8Array(32));
  const match = {
    mode: 'auction',
    offer: hash,
    bid: hash,
    quantity: 1000,
    priceMinor: 250,
    contractId: o.contractId ?? contractIdOf(contractPayloadSegment(contract)),
    contract,
    at: contract.window.start - 3600_000,
  };
  return signedContractFromCompacts([signJws(MARKET_MATCH_TYP, signer.id, match, signer.secretKey)]);
}

function refused(payload: string, gw = gwA, hub: HubKey | null = hubKey): string {
  const r = receiveContract(payload, gw, hub);
  if (r.ok) throw new Error('expected a refusal');
  return r.reason;
}

describe('receiveContract', () => {
  it('accepts a contract signed by seller then buyer for one of its delivery points', () => {
    const signed = signedBoth();
    const r = receiveContract(text(signed), gwA, hubKey);
    expect(r).toEqual({ ok: true, watched: { id: contractIdOf(signed), contract: exampleEnergyContract() } });
    // The buyer's gateway is a delivery point too.
    expect(receiveContract(text(signed), K.gatewayB.id, hubKey).ok).toBe(true);
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

  describe('market-made contracts (the hub-signed market match)', () => {
    const contract = exampleEnergyContract();
    const id = contractIdOf(contractPayloadSegment(contract));

    it('accepts a match signed by the hub key, with the id of the contract it carries', () => {
      expect(receiveContract(text(marketMatch()), gwA, hubKey)).toEqual({
        ok: true,
        watched: { id, contract },
      });
      expect(receiveContract(text(marketMatch()), K.gatewayB.id, hubKey).ok).toBe(true);
    });

    it('refuses a match signed by another key', () => {
      expect(refused(text(marketMatch(contract, { signer: K.seller })))).toMatch(/^market match: /);
      // Another key claiming the hub's id: the signature does not verify.
      const forged = { ...K.seller, id: K.hub.id };
      expect(refused(text(marketMatch(contract, { signer: forged })))).toMatch(/^market match: /);
    });

    it('refuses a match whose contract id is not the hash of its contract', () => {
      const other = contractIdOf(contractPayloadSegment({ ...contract, nonce: 'another-nonce' }));
      expect(refused(text(marketMatch(contract, { contractId: other })))).toBe(
        `the match names ${other}; its contract hashes to ${id}`,
      );
    });

    it('refuses a match when the gateway holds no hub key', () => {
      expect(refused(text(marketMatch()), gwA, null)).toMatch(/^no hub key to check the market match/);
    });

    it('refuses a match for which this gateway is not a delivery point', () => {
      expect(refused(text(marketMatch()), exampleKey('gateway-c', 'gw').id)).toMatch(
        /is not a delivery point of the contract$/,
      );
    });
  });
});
