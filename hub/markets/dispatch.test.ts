// planDispatch: the hub signs only commands the contract allows and settlement would count.
import { describe, expect, it } from 'vitest';
import type { FlexibilityContract } from '../../protocol/messages/index.js';
import { planDispatch } from './dispatch.js';

const T0 = Date.UTC(2026, 0, 1, 10);
const M = 60_000;
const GW = 'gw-aaaaaaaaaaaaaaaa';
const ID = `ct-${'B'.repeat(42)}A`;
const contract: FlexibilityContract = {
  product: 'flexibility',
  seller: 'pt-aaaaaaaaaaaaaaaa',
  buyer: 'pt-bbbbbbbbbbbbbbbb',
  energy: 'electricity',
  settlementPeriodMs: 15 * M,
  window: { start: T0, end: T0 + 60 * M },
  currency: 'EUR',
  deliveryPoints: {
    seller: [{ gw: GW, meter: 'battery' }],
    buyer: [{ gw: 'gw-bbbbbbbbbbbbbbbb', meter: 'grid' }],
  },
  deposits: { seller: 100, buyer: 100 },
  disputeWindowMs: M,
  nonce: 'ZmxleC1jb250cmFjdC0wMQ',
  createdAt: T0 - M,
  maxDischargeW: 3000,
  maxChargeW: 3000,
  availabilityMinor: 80,
  responseMinorPerKWh: 200,
  penaltyMinorPerKWh: 400,
};
const rec = { id: ID, status: 'active', contract };
const NONCE = 'bm9uY2Utbm9uY2Utbm9uY2U';

describe('planDispatch', () => {
  it('makes the command: default gateway, start now, expiry a minute or the end', () => {
    const p = planDispatch(rec, { contract: ID, setpointW: 2000, end: T0 + 20 * M }, T0 + 5 * M, NONCE);
    expect(p).toEqual({
      ok: true,
      command: {
        contract: ID,
        gw: GW,
        setpointW: 2000,
        start: T0 + 5 * M,
        end: T0 + 20 * M,
        expires: T0 + 6 * M,
        nonce: NONCE,
        issuedAt: T0 + 5 * M,
      },
    });
    const short = planDispatch(
      rec,
      { contract: ID, setpointW: -100, end: T0 + 5 * M + 30_000 },
      T0 + 5 * M,
      NONCE,
    );
    expect(short.ok && short.command.expires).toBe(T0 + 5 * M + 30_000);
  });

  it('refuses what the contract does not allow, with a code', () => {
    const code = (p: ReturnType<typeof planDispatch>) => (p.ok ? 'ok' : p.code);
    const now = T0 + 5 * M;
    const req = { contract: ID, setpointW: 2000, end: T0 + 20 * M };
    expect(code(planDispatch(undefined, req, now, NONCE))).toBe('unknown-contract');
    expect(code(planDispatch({ ...rec, status: 'approved' }, req, now, NONCE))).toBe('not-active');
    expect(
      code(planDispatch({ ...rec, contract: { ...contract, product: 'energy' } }, req, now, NONCE)),
    ).toBe('not-flexibility');
    expect(code(planDispatch(rec, { ...req, setpointW: 3001 }, now, NONCE))).toBe('above-max-power');
    expect(code(planDispatch(rec, { ...req, setpointW: -3001 }, now, NONCE))).toBe('above-max-power');
    expect(code(planDispatch(rec, { ...req, gw: 'gw-bbbbbbbbbbbbbbbb' }, now, NONCE))).toBe(
      'not-a-delivery-point',
    );
    expect(code(planDispatch(rec, { ...req, end: T0 + 61 * M }, now, NONCE))).toBe('outside-window');
    expect(code(planDispatch(rec, { ...req, start: T0 - M }, now, NONCE))).toBe('outside-window');
    expect(code(planDispatch(rec, { ...req, end: now }, now, NONCE))).toBe('bad-period');
  });
});
