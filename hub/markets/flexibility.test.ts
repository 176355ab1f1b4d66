// Flexibility settlement worked by hand (the example of docs/markets.md), then the rules one by
// one: void commands, a later command overriding an earlier one, refusal, and counting from proofs.
import { describe, expect, it } from 'vitest';
import {
  EXAMPLE_KEYS,
  EXAMPLE_T0,
  exampleDispatchCommand,
  exampleFlexibilityContract,
} from '../../protocol/messages/examples.js';
import type { DispatchCommand, FlexibilityContract } from '../../protocol/messages/index.js';
import { type ContractRecord, settledTermsOf } from '../contracts/fold.js';
import type { ProofRecord } from '../contracts/proof-rules.js';
import {
  type DispatchRecord,
  measuredFromProofs,
  settleFlexibility,
  stoppedFlexibilityTerms,
} from './flexibility.js';

const CT = `ct-${'f'.repeat(42)}A`;
const MIN = 60_000;
const Q = 900_000;
const at = (minutes: number) => EXAMPLE_T0 + minutes * MIN;

// The example contract: window 10:00–11:00 in four 15-minute intervals, up to 3000 W each way,
// availability 150, response 30 minor/kWh, penalty 60 minor/kWh, seller deposit 500.
const contract: FlexibilityContract = exampleFlexibilityContract();

let idx = 100;
function dispatch(
  setpointW: number,
  fromMin: number,
  toMin: number,
  response: DispatchRecord['response'],
  over: Partial<DispatchCommand> = {},
): DispatchRecord {
  const command: DispatchCommand = {
    ...exampleDispatchCommand(CT),
    setpointW,
    start: at(fromMin),
    end: at(toMin),
    issuedAt: at(fromMin - 1),
    expires: at(fromMin),
    ...over,
  };
  idx++;
  return { command, hash: `cmd-${idx}`, index: idx, response };
}

describe('flexibility settlement, the worked example', () => {
  it('pays availability and delivered response, and charges the penalty, as computed by hand', () => {
    const dispatches = [
      dispatch(2_000, 5, 25, 'applied'), //   D1 discharge 2000 W 10:05–10:25
      dispatch(-2_500, 20, 40, 'applied'), // D2 charge 2500 W 10:20–10:40 (issued later: wins 10:20–10:25)
      dispatch(3_000, 50, 60, null), //       D3 discharge 3000 W 10:50–11:00, never answered
      dispatch(5_000, 45, 50, 'refused'), //  D4 5000 W > maxDischargeW 3000: void
    ];
    const measured = [
      { start: at(0), exportWh: 340, importWh: 0 },
      { start: at(15), exportWh: 150, importWh: 420 },
      { start: at(30), exportWh: 0, importWh: 300 },
      { start: at(45), exportWh: 0, importWh: 0 },
    ];
    const r = settleFlexibility(CT, contract, dispatches, measured);
    // called, per interval (W × ms / 3 600 000, rounded down once per interval and direction):
    //   10:00  D1 10 min × 2000 W = 333.3 → 333 discharge
    //   10:15  D1  5 min × 2000 W = 166.6 → 166 discharge;  D2 10 min × 2500 W = 416.6 → 416 charge
    //   10:30  D2 10 min × 2500 W → 416 charge
    //   10:45  D3 10 min × 3000 W = 500 discharge (D4 is void)
    // delivered = min(called discharge, export) + min(called charge, import):
    //   10:00 min(333, 340) = 333;  10:15 min(166, 150) + min(416, 420) = 566;
    //   10:30 min(416, 300) = 300;  10:45 min(500, 0) = 0
    expect(
      r.intervals.map((i) => [i.calledDischargeWh, i.calledChargeWh, i.deliveredWh, i.unavailable]),
    ).toEqual([
      [333, 0, 333, false],
      [166, 416, 566, false],
      [0, 416, 300, false],
      [500, 0, 0, true],
    ]);
    // called 1831, delivered 1199, shortfall 632
    expect([r.calledWh, r.deliveredWh, r.shortfallWh]).toEqual([1831, 1199, 632]);
    // availability = floor(150 × 3 / 4) = 112 (10:45 lost: D3 unanswered)
    // response     = floor(1199 × 30 / 1000) = floor(35.97) = 35
    // penalty      = min(floor(632 × 60 / 1000), 500) = min(37, 500) = 37
    // net to the seller = 112 + 35 − 37 = 110
    expect([r.availabilityMinor, r.responseMinor, r.penaltyMinor, r.netToSellerMinor]).toEqual([
      112, 35, 37, 110,
    ]);
    expect(r.outcome).toBe('partial');
    expect(r.voided).toEqual([{ hash: dispatches[3]!.hash, reason: 'above-max-power' }]);
  });
});

describe('flexibility settlement rules', () => {
  it('no calls: full availability, nothing else', () => {
    const r = settleFlexibility(CT, contract, [], []);
    expect([r.availabilityMinor, r.responseMinor, r.penaltyMinor, r.outcome]).toEqual([
      150,
      0,
      0,
      'not-called',
    ]);
  });

  it('a fully delivered call is fulfilled; measured energy beyond the call earns nothing', () => {
    const r = settleFlexibility(
      CT,
      contract,
      [dispatch(-3_000, 0, 15, 'applied')],
      [{ start: at(0), exportWh: 0, importWh: 900 }],
    );
    // 3000 W × 15 min = 750 Wh called; min(750, 900) = 750 delivered; floor(750 × 30 / 1000) = 22
    expect([r.calledWh, r.deliveredWh, r.responseMinor, r.penaltyMinor, r.outcome]).toEqual([
      750,
      750,
      22,
      0,
      'fulfilled',
    ]);
  });

  it('a refused call loses the availability of each interval it overlaps, and the penalty caps at the deposit', () => {
    const poor = { ...contract, penaltyMinorPerKWh: 10_000, deposits: { seller: 40, buyer: 0 } };
    const r = settleFlexibility(CT, poor, [dispatch(3_000, 10, 20, 'refused')], []);
    // 10:10–10:20 overlaps 10:00 and 10:15: availability floor(150 × 2 / 4) = 75;
    // called 3000 W × 10 min = 500 Wh (250 + 250), delivered 0; penalty min(5000, 40) = 40
    expect([r.availabilityMinor, r.calledWh, r.penaltyMinor, r.outcome]).toEqual([75, 500, 40, 'failed']);
  });

  it('voids commands of another contract, another gateway, outside the window, and charge above maxChargeW', () => {
    const r = settleFlexibility(
      CT,
      { ...contract, maxChargeW: 1_000 },
      [
        dispatch(1_000, 0, 15, 'refused', { contract: `ct-${'e'.repeat(42)}A` }),
        dispatch(1_000, 0, 15, 'refused', { gw: EXAMPLE_KEYS.gatewayB.id }),
        dispatch(1_000, 60, 70, null, { expires: at(60) }),
        dispatch(-1_500, 0, 15, 'refused'),
      ],
      [],
    );
    expect(r.voided.map((v) => v.reason)).toEqual([
      'other-contract',
      'not-a-delivery-point',
      'outside-window',
      'above-max-power',
    ]);
    expect([r.availabilityMinor, r.calledWh]).toEqual([150, 0]);
  });

  it('a hold command (0 W) ends an earlier call without being a call itself', () => {
    const r = settleFlexibility(
      CT,
      contract,
      [dispatch(2_000, 0, 15, 'applied'), dispatch(0, 5, 15, null)],
      [{ start: at(0), exportWh: 1_000, importWh: 0 }],
    );
    // 2000 W for 5 min only = 166 Wh; the unanswered hold costs no availability
    expect([r.calledWh, r.deliveredWh, r.availabilityMinor]).toEqual([166, 166, 150]);
  });

  it('measures from the seller delivery points by the contracts proof rule', () => {
    const proof = (
      meter: string,
      start: number,
      exportWh: number,
      importWh: number,
      flags: ProofRecord['flags'] = [],
    ): ProofRecord => ({
      hash: `${meter}-${start}`,
      gw: EXAMPLE_KEYS.gatewayA.id,
      meter,
      energy: 'electricity',
      start,
      end: start + Q,
      importWh,
      exportWh,
      flags,
    });
    const m = measuredFromProofs(
      {
        ...contract,
        deliveryPoints: {
          ...contract.deliveryPoints,
          seller: [{ gw: EXAMPLE_KEYS.gatewayA.id, meter: 'battery-meter' }],
        },
      },
      [
        proof('battery-meter', at(0), 300, 5),
        proof('grid-meter', at(0), 9_999, 9_999), // not a delivery point
        proof('battery-meter', at(15), 100, 200, ['clock-jump']), // zero-count flag
        proof('battery-meter', at(0), 300, 5), // overlaps an earlier counted proof
        proof('battery-meter', at(30), 0, 410),
      ],
    );
    expect(m).toEqual([
      { start: at(0), exportWh: 300, importWh: 5 },
      { start: at(15), exportWh: 0, importWh: 0 },
      { start: at(30), exportWh: 0, importWh: 410 },
      { start: at(45), exportWh: 0, importWh: 0 },
    ]);
  });
});

describe('flexibility settlement of a contract stopped early (the stop rule)', () => {
  it('settles only the intervals before the stop, with the availability prorated', () => {
    // The worked example's calls and meters, the contract stopped at 10:30.
    const dispatches = [
      dispatch(2_000, 5, 25, 'applied'),
      dispatch(-2_500, 20, 40, 'applied'),
      dispatch(3_000, 50, 60, null),
      dispatch(5_000, 45, 50, 'refused'),
    ];
    const measured = [
      { start: at(0), exportWh: 340, importWh: 0 },
      { start: at(15), exportWh: 150, importWh: 420 },
      { start: at(30), exportWh: 0, importWh: 300 },
      { start: at(45), exportWh: 0, importWh: 0 },
    ];
    const terms = stoppedFlexibilityTerms(contract, at(30));
    // availability floor(150 × 30 min / 60 min) = 75
    expect([terms.window, terms.availabilityMinor]).toEqual([{ start: at(0), end: at(30) }, 75]);
    // The settlement entry's terms are the same cut ones (hub/contracts/fold.ts settledTermsOf).
    // Only the contract and its stop are read; the rest of the record does not matter here.
    const rec = { contract, stop: { endsAt: at(30) } } as unknown as ContractRecord;
    expect(settledTermsOf(rec)).toEqual(terms);
    const r = settleFlexibility(CT, terms, dispatches, measured);
    // 10:00 and 10:15 as in the worked example; D2 counts only up to the cut (10:15 interval);
    // D3 and D4 start after the stop: void, so D3's silence costs nothing.
    expect(r.intervals.map((i) => [i.start, i.calledDischargeWh, i.calledChargeWh, i.deliveredWh])).toEqual([
      [at(0), 333, 0, 333],
      [at(15), 166, 416, 566],
    ]);
    // called 915, delivered 899, shortfall 16; response floor(899 × 30 / 1000) = 26;
    // penalty floor(16 × 60 / 1000) = 0; net 75 + 26 = 101.
    expect([r.calledWh, r.deliveredWh, r.shortfallWh]).toEqual([915, 899, 16]);
    expect([r.availabilityMinor, r.responseMinor, r.penaltyMinor, r.netToSellerMinor]).toEqual([
      75, 26, 0, 101,
    ]);
    expect(r.voided).toEqual([
      { hash: dispatches[2]!.hash, reason: 'outside-window' },
      { hash: dispatches[3]!.hash, reason: 'outside-window' },
    ]);
    // Without the stop, the same log settles the whole window (the worked example: net 110).
    expect(settleFlexibility(CT, contract, dispatches, measured).netToSellerMinor).toBe(110);
  });
});
