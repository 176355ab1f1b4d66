import { describe, expect, it } from 'vitest';
import { b64url, sha256 } from '../../protocol/index.js';
import { EXAMPLE_T0, EXAMPLE_KEYS as K } from '../../protocol/messages/examples.js';
import {
  contractIdOf,
  type EnergyContract,
  type MeterProofFlag,
  parseFulfilmentEvent,
  signContract,
} from '../../protocol/messages/index.js';
import {
  decideFulfilments,
  type OwnProof,
  type WatchedContract,
  watchedContractFrom,
} from './watcher-core.js';

const Q = 900_000;
const WINDOW = { start: EXAMPLE_T0, end: EXAMPLE_T0 + 4 * Q };

function contract(overrides: Partial<EnergyContract> = {}): EnergyContract {
  return {
    product: 'energy',
    seller: K.seller.id,
    buyer: K.buyer.id,
    energy: 'electricity',
    settlementPeriodMs: Q,
    window: WINDOW,
    currency: 'EUR',
    deliveryPoints: {
      seller: [{ gw: K.gatewayA.id, meter: 'grid-meter' }],
      buyer: [{ gw: K.gatewayB.id, meter: 'grid-meter' }],
    },
    deposits: { seller: 60, buyer: 120 },
    disputeWindowMs: 86_400_000,
    nonce: 'd2F0Y2hlci10ZXN0LW5vbmNl',
    createdAt: EXAMPLE_T0 - 86_400_000,
    quantity: { wh: 1000, per: 'interval' },
    priceMinorPerKWh: 29,
    penaltyMinorPerKWh: 20,
    ...overrides,
  };
}

const watched = (c = contract()): WatchedContract => ({
  id: `ct-${b64url.encode(sha256('c'))}`,
  contract: c,
});

/** Gateway A's proofs: export per interval (null = no proof), seq from 10, one before the window. */
function proofs(exports: (number | null | { wh: number; flags: MeterProofFlag[] })[]): OwnProof[] {
  const out: OwnProof[] = [];
  let seq = 10;
  const mk = (start: number, wh: number, flags: MeterProofFlag[]): OwnProof => ({
    hash: b64url.encode(sha256(`proof ${start}`)),
    seq: seq++,
    gw: K.gatewayA.id,
    meter: 'grid-meter',
    energy: 'electricity',
    start,
    end: start + Q,
    importWh: 2,
    exportWh: wh,
    flags,
  });
  out.push(mk(EXAMPLE_T0 - Q, 5000, [])); // before the window: never counted or cited
  exports.forEach((e, i) => {
    if (e === null) return;
    const [wh, flags] = typeof e === 'number' ? [e, []] : [e.wh, e.flags];
    out.push(mk(EXAMPLE_T0 + i * Q, wh, flags));
  });
  return out;
}

const never = () => false;
const decide = (now: number, ps: OwnProof[], w = watched(), gw = K.gatewayA.id, signed = never) =>
  decideFulfilments({ watched: w, gw, now, proofs: ps, alreadySigned: signed, graceMs: 2 * Q });

describe('contract watcher core', () => {
  it('waits while the window is open', () => {
    expect(decide(WINDOW.end - 1, proofs([1000, 1000, 1000]))).toEqual([
      { action: 'wait', role: 'seller', until: WINDOW.end, reason: 'window-open' },
    ]);
  });

  it('signs when the window closed and every interval is proven: fulfilled', () => {
    const ps = proofs([1000, 1200, 1000, 1100]);
    const [step] = decide(WINDOW.end + 1_000, ps);
    expect(step?.action).toBe('sign');
    if (step?.action !== 'sign') return;
    // contracted 4 × 1000 = 4000; measured 1000 + 1200 + 1000 + 1100 = 4300 ≥ 4000 → fulfilled.
    expect(step.body).toEqual({
      contract: watched().id,
      role: 'seller',
      window: WINDOW,
      contractedWh: 4000,
      measuredWh: 4300,
      outcome: 'fulfilled',
      proofs: ps.slice(1).map((p) => p.hash),
      signedAt: WINDOW.end + 1_000,
    });
    const event = { gw: K.gatewayA.id, seq: 15, prev: b64url.encode(sha256('prev')), ...step.body };
    expect(parseFulfilmentEvent(event).ok).toBe(true);
  });

  it('waits for a missing interval until the grace period ends, then signs it as 0: partial', () => {
    const ps = proofs([1000, null, 900, { wh: 800, flags: ['clock-unsynchronised'] }]);
    expect(decide(WINDOW.end + Q, ps)).toEqual([
      { action: 'wait', role: 'seller', until: WINDOW.end + 2 * Q, reason: 'awaiting-proofs' },
    ]);
    const [step] = decide(WINDOW.end + 2 * Q, ps);
    if (step?.action !== 'sign') throw new Error('expected sign');
    // measured 1000 + 0 (missing) + 900 + 0 (clock-unsynchronised counts 0) = 1900 → partial.
    expect(step.body).toMatchObject({ measuredWh: 1900, outcome: 'partial' });
    expect(step.body.proofs).toHaveLength(3); // the flagged proof is cited: the measurement rests on it
  });

  it('a buyer gateway reports its import; a seller that exported nothing has failed', () => {
    const buyerProofs = proofs([0, 0, 0, 0]).map((p) => ({ ...p, gw: K.gatewayB.id }));
    const [b] = decide(WINDOW.end, buyerProofs, watched(), K.gatewayB.id);
    if (b?.action !== 'sign') throw new Error('expected sign');
    // The buyer side counts import: 2 Wh in each of the 4 in-window proofs = 8 < 4000 → partial.
    expect(b.body).toMatchObject({ role: 'buyer', measuredWh: 8, outcome: 'partial' });
    const [s] = decide(WINDOW.end, proofs([0, 0, 0, 0]));
    if (s?.action !== 'sign') throw new Error('expected sign');
    expect(s.body).toMatchObject({ measuredWh: 0, outcome: 'failed' });
  });

  it('never signs twice: an already-signed side is done', () => {
    expect(
      decide(WINDOW.end + Q, proofs([1000, 1000, 1000, 1000]), watched(), K.gatewayA.id, () => true),
    ).toEqual([{ action: 'done', role: 'seller' }]);
  });

  it('a contract this gateway does not meter yields nothing', () => {
    const other = contract({
      deliveryPoints: {
        seller: [{ gw: K.gatewayB.id, meter: 'm' }],
        buyer: [{ gw: K.gatewayB.id, meter: 'n' }],
      },
    });
    expect(decide(WINDOW.end, proofs([1]), watched(other))).toEqual([]);
  });

  it('reads the contract the hub sends: same id as the parties signed', () => {
    const c = contract();
    const signed = signContract(
      signContract(c, K.seller.id, K.seller.secretKey),
      K.buyer.id,
      K.buyer.secretKey,
    );
    const r = watchedContractFrom(signed);
    expect(r).toEqual({ ok: true, watched: { id: contractIdOf(signed), contract: c } });
    expect(watchedContractFrom({ ...signed, payload: 'e30' })).toMatchObject({ ok: false });
  });
});
