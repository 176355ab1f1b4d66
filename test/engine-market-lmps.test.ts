// The engine's price publications carry the nodal congestion prices of the latest congestion
// decision for the interval (docs/markets.md, "Prices"), on a real SQLite ledger with a real
// auction. The congestion step is stood in by one validator-signed decision whose reasons the real
// packer (congestionDecisionFields) makes: the point here is what the engine publishes, not how the
// decision is computed (test/engine-congestion.test.ts runs the real step with HiGHS).
import { describe, expect, it } from 'vitest';
import type { LedgerState } from '../hub/contracts/fold.js';
import { Engine } from '../hub/engine/engine.js';
import { Q, T0 } from '../hub/markets/example-orders.js';
import type { CongestionOutputs } from '../hub/validator/congestion/decision.js';
import { congestionDecisionFields } from '../hub/validator/congestion-state.js';
import { K } from '../hub/validator/fixtures.js';
import { b64url } from '../protocol/index.js';
import { signMessage, VALIDATOR_DECISION_TYP, type ValidatorDecision } from '../protocol/messages/index.js';
import {
  AUCTION_RULES,
  aliceOffersBobBids,
  auctionEngineDeps,
  tempLedger,
} from './support/engine-fixtures.js';

const NODAL = { 'bus-2': 1400, 'bus-3': -2800, 'bus-s': 900 };
const BUS_REGIONS = { 'bus-1': 'north', 'bus-2': 'north', 'bus-3': 'north', 'bus-s': 'south' };

function decision(interval: { start: number; end: number }, method: CongestionOutputs['method'], at: number) {
  const outputs: CongestionOutputs = {
    method,
    outcome: 'refused',
    flowsBeforeW: {},
    overloads: [{ line: 'line-1-3', flowW: 2667, limitW: 2000 }],
    adjustments: [],
    weightedChangeWh: 0,
    refused: [{ contract: `ct-${'A'.repeat(43)}`, lines: [{ line: 'line-1-3', ptdfPerMille: 667 }] }],
    flowsAfterW: {},
    lineShadowPrices: { 'line-1-3': 4200 },
    nodalCongestion: NODAL,
    solverStatus: 'Optimal',
  };
  const hash = b64url.encode(new Uint8Array(32).fill(interval.start % 251));
  const d: ValidatorDecision = {
    kind: 'congestion',
    subject: hash,
    inputsHash: hash,
    interval,
    ...congestionDecisionFields(outputs, interval, { name: 'triangle', hash: 'a'.repeat(64) }),
    at,
  };
  return signMessage(VALIDATOR_DECISION_TYP, K.validator.id, d, K.validator.secretKey);
}

/** An auction world; `decide` lists the congestion decisions the stand-in step appends once. */
function run(decide: (now: number) => string[]) {
  const temp = tempLedger('test/lmps');
  let now = T0 - 3_600_000;
  let decided = false;
  const engine = new Engine(
    auctionEngineDeps(temp, () => now, {
      congestion: {
        kid: K.validator.id,
        busRegions: BUS_REGIONS,
        next: (_state: LedgerState, at: number) => {
          if (decided) return [];
          decided = true;
          return decide(at).map((compact) => ({ compact }));
        },
      },
    }),
  );
  engine.start();
  try {
    aliceOffersBobBids(engine, now);
    engine.tick();
    now = T0 - AUCTION_RULES.gateClosureLeadMs;
    engine.tick();
    engine.tick();
    return { prices: engine.latestPrices(), congestion: engine.ledgerState.congestion };
  } finally {
    engine.stop();
    temp.db.close();
  }
}

describe('engine prices: LMPs from the congestion decision', () => {
  it('the auction interval with a congestion decision carries its region’s nodal prices', () => {
    const { prices, congestion } = run((at) => [
      decision({ start: T0, end: T0 + Q }, 'congestion-price', at),
    ]);
    expect(congestion).toHaveLength(1);
    expect(congestion[0]?.nodalPrices).toEqual({ unit: 'minor units', prices: NODAL });
    expect(prices).toHaveLength(1);
    expect(prices[0]?.intervals).toEqual([
      {
        start: T0,
        end: T0 + Q,
        clearingMinorPerKWh: 20,
        volumeWh: 800,
        // bus-1 is not listed (its component is 0); bus-s is in another region.
        lmps: [
          { node: 'bus-1', minorPerMWh: 0 },
          { node: 'bus-2', minorPerMWh: 1400 },
          { node: 'bus-3', minorPerMWh: -2800 },
        ],
      },
    ]);
  });

  it('no LMPs without a decision for the interval, or when the decision’s values are weights', () => {
    for (const [decide, decisions] of [
      [() => [], 0],
      [(at: number) => [decision({ start: T0 + Q, end: T0 + 2 * Q }, 'congestion-price', at)], 1],
      [(at: number) => [decision({ start: T0, end: T0 + Q }, 'min-adjustment', at)], 1],
    ] as const) {
      const { prices, congestion } = run(decide);
      expect(congestion).toHaveLength(decisions);
      expect(prices[0]?.intervals).toEqual([
        { start: T0, end: T0 + Q, clearingMinorPerKWh: 20, volumeWh: 800 },
      ]);
    }
  });
});
