// The agent's dispatch checks, each refusal by its code, and the signature check of receive.ts
// with real Ed25519 keys: the hub's key verifies, another key (a forgery) does not.
import { describe, expect, it } from 'vitest';
import { b64url, deriveId, generateSecretKey, publicKeyOf, signJws } from '../../protocol/index.js';
import {
  DISPATCH_COMMAND_TYP,
  type DispatchCommand,
  type FlexibilityContract,
  signMessage,
} from '../../protocol/messages/index.js';
import { receiveCommand } from './receive.js';
import { checkCommand, checkLocalLimits, checkStateOfCharge, type LocalLimits } from './safety.js';

const GW = 'gw-aaaaaaaaaaaaaaaa';
const OTHER_GW = 'gw-bbbbbbbbbbbbbbbb';
const CT = `ct-${'A'.repeat(43)}`;
const T0 = Date.UTC(2026, 0, 1);
const M = 60_000;

const contract: FlexibilityContract = {
  product: 'flexibility',
  seller: 'pt-aaaaaaaaaaaaaaaa',
  buyer: 'pt-bbbbbbbbbbbbbbbb',
  energy: 'electricity',
  settlementPeriodMs: M,
  window: { start: T0, end: T0 + 10 * M },
  currency: 'EUR',
  deliveryPoints: { seller: [{ gw: GW, meter: 'battery' }], buyer: [{ gw: OTHER_GW, meter: 'grid' }] },
  deposits: { seller: 100, buyer: 100 },
  disputeWindowMs: M,
  nonce: 'ZmxleC1jb250cmFjdC0wMQ',
  createdAt: T0 - M,
  maxDischargeW: 3000,
  maxChargeW: 2000,
  availabilityMinor: 50,
  responseMinorPerKWh: 200,
  penaltyMinorPerKWh: 400,
};

const cmd = (over: Partial<DispatchCommand> = {}): DispatchCommand => ({
  contract: CT,
  gw: GW,
  setpointW: 2500,
  start: T0 + M,
  end: T0 + 3 * M,
  expires: T0 + 2 * M,
  nonce: 'ZGlzcGF0Y2gtbm9uY2UtMDE',
  issuedAt: T0 + M - 1000,
  ...over,
});

const base = { command: cmd(), gatewayId: GW, now: T0 + M, seen: false, contract };
const code = (r: { ok: boolean; reason?: { code: string } }) => (r.ok ? 'ok' : r.reason?.code);

describe('checkCommand', () => {
  it('accepts a fresh command for this gateway inside the contract', () => {
    expect(code(checkCommand(base))).toBe('ok');
    expect(code(checkCommand({ ...base, command: cmd({ setpointW: -2000 }) }))).toBe('ok');
  });

  it('refuses with a code for each failed condition', () => {
    expect(code(checkCommand({ ...base, command: cmd({ gw: OTHER_GW }) }))).toBe('wrong-gateway');
    expect(code(checkCommand({ ...base, seen: true }))).toBe('replay');
    expect(code(checkCommand({ ...base, now: T0 + 2 * M + 1 }))).toBe('expired');
    expect(code(checkCommand({ ...base, contract: undefined }))).toBe('unknown-contract');
    const notSeller = {
      ...contract,
      deliveryPoints: { seller: contract.deliveryPoints.buyer, buyer: contract.deliveryPoints.seller },
    };
    expect(code(checkCommand({ ...base, contract: notSeller }))).toBe('not-seller');
    expect(code(checkCommand({ ...base, command: cmd({ start: T0 - M }) }))).toBe('outside-window');
    expect(code(checkCommand({ ...base, command: cmd({ end: T0 + 11 * M, expires: T0 + 2 * M }) }))).toBe(
      'outside-window',
    );
    expect(code(checkCommand({ ...base, command: cmd({ setpointW: 3001 }) }))).toBe('above-contract-power');
    expect(code(checkCommand({ ...base, command: cmd({ setpointW: -2001 }) }))).toBe('above-contract-power');
    const ended = { ...contract, window: { start: T0 - 10 * M, end: T0 } };
    expect(
      code(
        checkCommand({
          ...base,
          contract: ended,
          command: cmd({ start: T0 - 5 * M, end: T0 + 5 * M, expires: T0 + 2 * M }),
        }),
      ),
    ).toBe('contract-ended');
  });
});

describe('local limits and state of charge', () => {
  const limits: LocalLimits = {
    enabled: true,
    socMinPct: 10,
    socMaxPct: 90,
    maxDischargeW: 2500,
    maxChargeW: 1500,
  };

  it('writes are off unless the installer enabled them', () => {
    expect(code(checkLocalLimits(100, { ...limits, enabled: false }))).toBe('writes-disabled');
    expect(code(checkLocalLimits(0, { ...limits, enabled: false }))).toBe('writes-disabled');
    expect(code(checkLocalLimits(2500, limits))).toBe('ok');
  });

  it('the installer’s power limits bound both directions', () => {
    expect(code(checkLocalLimits(2501, limits))).toBe('above-local-limit');
    expect(code(checkLocalLimits(-1501, limits))).toBe('above-local-limit');
    expect(code(checkLocalLimits(-1500, limits))).toBe('ok');
  });

  it('no discharge at or below socMin, no charge at or above socMax, unknown SoC refused', () => {
    expect(code(checkStateOfCharge(1000, 10, limits))).toBe('soc-too-low');
    expect(code(checkStateOfCharge(1000, 10.1, limits))).toBe('ok');
    expect(code(checkStateOfCharge(-1000, 90, limits))).toBe('soc-too-high');
    expect(code(checkStateOfCharge(-1000, 89.9, limits))).toBe('ok');
    // Charging an empty battery or discharging a full one is fine.
    expect(code(checkStateOfCharge(-1000, 5, limits))).toBe('ok');
    expect(code(checkStateOfCharge(1000, 95, limits))).toBe('ok');
    expect(code(checkStateOfCharge(1000, null, limits))).toBe('soc-unknown');
    expect(code(checkStateOfCharge(0, null, limits))).toBe('ok');
  });
});

describe('receiveCommand: the hub’s signature', () => {
  const hubSecret = generateSecretKey();
  const hub = { hubId: deriveId('hub', publicKeyOf(hubSecret)), publicKey: publicKeyOf(hubSecret) };

  it('a command signed by the hub verifies', () => {
    const jws = signMessage(DISPATCH_COMMAND_TYP, hub.hubId, cmd(), hubSecret);
    const r = receiveCommand(jws, hub);
    expect(r.kind).toBe('ok');
  });

  it('a forgery (another key under the hub’s kid) is refused as bad-signature, with its contract', () => {
    const jws = signMessage(DISPATCH_COMMAND_TYP, hub.hubId, cmd(), generateSecretKey());
    const r = receiveCommand(jws, hub);
    expect(r).toMatchObject({ kind: 'refuse', contract: CT, reason: { code: 'bad-signature' } });
  });

  it('another signer is not-from-hub; no hub key is hub-key-unknown; garbage is unreadable', () => {
    const jws = signMessage(
      DISPATCH_COMMAND_TYP,
      deriveId('hub', publicKeyOf(generateSecretKey())),
      cmd(),
      hubSecret,
    );
    expect(receiveCommand(jws, hub)).toMatchObject({ kind: 'refuse', reason: { code: 'not-from-hub' } });
    const good = signMessage(DISPATCH_COMMAND_TYP, hub.hubId, cmd(), hubSecret);
    expect(receiveCommand(good, null)).toMatchObject({ kind: 'refuse', reason: { code: 'hub-key-unknown' } });
    expect(receiveCommand('not a jws', hub).kind).toBe('unreadable');
    const noContract = signJws(
      DISPATCH_COMMAND_TYP,
      hub.hubId,
      { ...cmd(), contract: 'x' },
      generateSecretKey(),
    );
    expect(receiveCommand(noContract, hub).kind).toBe('unreadable');
    expect(b64url.encode(hub.publicKey)).toHaveLength(43);
  });
});
