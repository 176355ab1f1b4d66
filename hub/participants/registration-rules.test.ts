import { describe, expect, it } from 'vitest';
import { b64url } from '../../protocol/index.js';
import { EXAMPLE_KEYS as K } from '../../protocol/messages/examples.js';
import type { ParticipantApplication } from '../contracts/messages.js';
import { parseParticipantApplication } from '../contracts/messages.js';
import { policyHash, registrationDecision, reviewApplication } from './registration-rules.js';
import {
  applyApplication,
  applyGatewayBinding,
  applyRegistrationDecision,
  emptyRegistry,
} from './registry.js';

function app(overrides: Partial<ParticipantApplication> = {}): ParticipantApplication {
  return {
    participant: K.seller.id,
    publicKey: b64url.encode(K.seller.publicKey),
    role: 'producer',
    energies: ['electricity'],
    region: 'north',
    gridNode: 'bus-3',
    gateways: [K.gatewayA.id],
    capacityW: 8000,
    at: 1,
    ...overrides,
  };
}

function registry() {
  const reg = emptyRegistry();
  for (const gw of [K.gatewayA, K.gatewayB])
    applyGatewayBinding(reg, 0, { gw: gw.id, publicKey: b64url.encode(gw.publicKey), site: 's', at: 0 });
  return reg;
}

describe('registration rules', () => {
  it('approves a compliant application', () => {
    expect(reviewApplication(app(), registry())).toEqual({ outcome: 'approved', reasons: [] });
  });

  it('refuses each violated rule with its code', () => {
    const reg = registry();
    applyGatewayBinding(reg, 1, {
      gw: K.gatewayB.id,
      publicKey: b64url.encode(K.gatewayB.publicKey),
      site: 's',
      participant: K.buyer.id,
      at: 1,
    });
    const r = reviewApplication(
      app({
        region: 'south',
        energies: ['electricity', 'gas'],
        capacityW: 90_000,
        gateways: [K.gatewayB.id, 'gw-aaaaaaaaaaaaaaaa'],
      }),
      reg,
      { regions: ['north'], energiesByRole: { producer: ['electricity'] }, maxCapacityW: 30_000 },
    );
    expect(r.outcome).toBe('refused');
    expect(r.reasons.map((x) => x.code)).toEqual([
      'region-not-allowed',
      'energy-not-allowed',
      'capacity-above-limit',
      'gateway-of-another-participant',
      'gateway-not-enrolled',
    ]);
    expect(reviewApplication(app({ gateways: [] }), reg).reasons.map((x) => x.code)).toEqual([
      'gateway-required',
    ]);
    expect(reviewApplication(app({ role: 'utility', gateways: [] }), reg).outcome).toBe('approved');
  });

  it('refuses a gateway another registered participant meters, and a second registration', () => {
    const reg = registry();
    const buyer = app({
      participant: K.buyer.id,
      publicKey: b64url.encode(K.buyer.publicKey),
      role: 'household',
    });
    expect(applyApplication(reg, 2, K.buyer.id, buyer)).toEqual({ ok: true });
    const d = registrationDecision(buyer, reviewApplication(buyer, reg), {}, 3);
    expect(d).toMatchObject({ kind: 'registration', outcome: 'approved', inputsHash: policyHash({}) });
    expect(applyRegistrationDecision(reg, 3, d)).toEqual({ ok: true });
    expect(reviewApplication(app(), reg).reasons.map((x) => x.code)).toEqual([
      'gateway-of-another-participant',
    ]);
    expect(reviewApplication(buyer, reg).reasons.map((x) => x.code)).toContain('already-registered');
    expect(applyApplication(reg, 4, K.buyer.id, buyer)).toMatchObject({
      ok: false,
      code: 'already-registered',
    });
  });

  it('the application schema ties the id to the key and wants sorted, unique lists', () => {
    expect(parseParticipantApplication(app()).ok).toBe(true);
    const wrongKey = parseParticipantApplication(app({ publicKey: b64url.encode(K.buyer.publicKey) }));
    expect(wrongKey.ok ? [] : wrongKey.issues.map((i) => i.path)).toEqual(['participant']);
    const unsorted = parseParticipantApplication(app({ energies: ['heat', 'electricity'] }));
    expect(unsorted.ok).toBe(false);
  });
});
