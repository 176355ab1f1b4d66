import { describe, expect, it } from 'vitest';
import { exampleKey } from '../../protocol/messages/examples.js';
import { appliedWorld, fold, K, makeValidator, POLICY, registeredWorld, triangleGrid } from './fixtures.js';
import { type Applicant, REGISTRATION_CODES, reviewRegistration } from './registration-review.js';

const applied = fold(appliedWorld(false)).registry;
const registered = fold(registeredWorld(makeValidator(), false)).registry;
const newcomer = exampleKey('newcomer', 'pt');

/** A compliant applicant: a household at bus-2 metered by gateway B's… no: by a fresh, enrolled gateway. */
const base: Applicant = {
  id: K.seller.id,
  role: 'producer',
  energies: ['electricity'],
  region: 'north',
  gridNode: 'bus-1',
  gateways: [K.gatewayA.id],
  capacityW: 10_000,
};

interface Case {
  code: (typeof REGISTRATION_CODES)[number];
  applicant: Applicant;
  registry?: typeof applied;
  grid?: boolean;
}

const CASES: Case[] = [
  { code: 'already-registered', applicant: base, registry: registered },
  { code: 'role-not-allowed', applicant: { ...base, role: 'storage' } },
  { code: 'region-not-allowed', applicant: { ...base, region: 'west' } },
  { code: 'grid-node-not-allowed', applicant: { ...base, gridNode: 'bus-9' } },
  // The policy's south region allows any node, but the grid model has no such bus.
  { code: 'grid-node-unknown', applicant: { ...base, region: 'south', gridNode: 'bus-77' }, grid: true },
  { code: 'energy-not-allowed', applicant: { ...base, energies: ['electricity', 'heat'] } },
  { code: 'capacity-above-limit', applicant: { ...base, capacityW: 1_000_001 } },
  { code: 'gateway-required', applicant: { ...base, gateways: [] } },
  { code: 'gateway-not-enrolled', applicant: { ...base, gateways: [exampleKey('gateway-z', 'gw').id] } },
  // Gateway B was enrolled for the buyer.
  {
    code: 'gateway-of-another-participant',
    applicant: { ...base, id: newcomer.id, gateways: [K.gatewayB.id] },
  },
];

describe('qualification review: each rule passes a compliant application and refuses its violation', () => {
  it('the compliant application is approved, with and without the grid model', () => {
    expect(reviewRegistration(base, applied, POLICY)).toEqual({ outcome: 'approved', reasons: [] });
    expect(reviewRegistration(base, applied, POLICY, triangleGrid())).toEqual({
      outcome: 'approved',
      reasons: [],
    });
  });

  it('every rule code has a violating case here', () => {
    expect(new Set(CASES.map((c) => c.code))).toEqual(new Set(REGISTRATION_CODES));
  });

  for (const c of CASES)
    it(`${c.code}: refused with its code`, () => {
      const r = reviewRegistration(
        c.applicant,
        c.registry ?? applied,
        POLICY,
        c.grid ? triangleGrid() : undefined,
      );
      expect(r.outcome).toBe('refused');
      expect(r.reasons.map((x) => x.code)).toContain(c.code);
      expect(r.reasons.every((x) => x.message.length > 10)).toBe(true);
    });

  it('a gateway metering an approved participant cannot be claimed by another', () => {
    const r = reviewRegistration({ ...base, id: newcomer.id, gateways: [K.gatewayA.id] }, registered, POLICY);
    expect(r.reasons).toContainEqual({
      code: 'gateway-of-another-participant',
      message: `${K.gatewayA.id} was enrolled for ${K.seller.id}`,
    });
    expect(r.reasons).toContainEqual({
      code: 'gateway-of-another-participant',
      message: `${K.gatewayA.id} meters ${K.seller.id} already`,
    });
  });
});

describe('queued for a person', () => {
  it('capacity above the human-review threshold (and within the limit) is queued', () => {
    expect(reviewRegistration({ ...base, capacityW: 100_001 }, applied, POLICY)).toEqual({
      outcome: 'queued',
      reasons: [{ code: 'human-review-capacity', message: expect.stringContaining('100001 W') }],
    });
    expect(reviewRegistration({ ...base, capacityW: 100_000 }, applied, POLICY).outcome).toBe('approved');
  });

  it('a role the policy always sends to a person is queued; a refusal still wins', () => {
    const utility: Applicant = { ...base, role: 'utility', gateways: [] };
    expect(reviewRegistration(utility, applied, POLICY)).toEqual({
      outcome: 'queued',
      reasons: [{ code: 'human-review-role', message: 'every utility application is decided by a person' }],
    });
    expect(reviewRegistration({ ...utility, region: 'west' }, applied, POLICY).outcome).toBe('refused');
  });
});
