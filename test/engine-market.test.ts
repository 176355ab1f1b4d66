// The engine's market on a real SQLite ledger: signed orders through the engine, the auction at
// gate closure (auction-result and market-match entries the market fold recomputes and accepts),
// prices published as a hub-signed entry and on the retained prices topic, once; a fresh engine
// on the same ledger folds to the same market and appends nothing.
import { afterAll, describe, expect, it } from 'vitest';
import { Engine } from '../hub/engine/engine.js';
import { energyOrder, participant, Q, T0 } from '../hub/markets/example-orders.js';
import { AUCTION_RESULT_TYP, MARKET_MATCH_TYP } from '../hub/markets/messages.js';
import { ORDER_TYP, PRICE_TYP, signMessage } from '../protocol/messages/index.js';
import {
  AUCTION_RULES,
  aliceOffersBobBids,
  auctionEngineDeps,
  tempLedger,
} from './support/engine-fixtures.js';

describe('engine market: auction at gate closure, prices', () => {
  const temp = tempLedger('test/market');
  const { db, ledger } = temp;
  let now = T0 - 3_600_000;
  const published: { topic: string; payload: string; retain: boolean }[] = [];
  const deps = () =>
    auctionEngineDeps(temp, () => now, {
      publish: (topic, payload, o) => {
        published.push({ topic, payload, retain: o.retain });
      },
    });
  const engine = new Engine(deps());
  engine.start();
  afterAll(() => {
    engine.stop();
    db.close();
  });

  it('clears the book once at gate closure and publishes its price', () => {
    // Offer 1000 Wh at ≥ 20, bid 800 Wh at ≤ 30 → 800 Wh clear; the offer is the partly filled
    // marginal order, so the range is its limit alone (docs/markets.md): price 20.
    expect(aliceOffersBobBids(engine, now).map((r) => r.status)).toEqual(['appended', 'appended']);
    // A forged order (bob's order signed by alice's key) is refused before the log.
    const forged = energyOrder({ who: 'bob', side: 'bid', quantityWh: 5, limitMinorPerKWh: 30 });
    expect(() =>
      engine.submitSigned(signMessage(ORDER_TYP, forged.participant, forged, participant('alice').secretKey)),
    ).toThrow(/signature/);
    engine.tick();
    expect(ledger.range(0, ledger.size).some((e) => e.typ === AUCTION_RESULT_TYP)).toBe(false);
    now = T0 - AUCTION_RULES.gateClosureLeadMs;
    engine.tick();
    engine.tick();
    const typs = ledger.range(0, ledger.size).map((e) => e.typ);
    expect(typs.filter((t) => t === AUCTION_RESULT_TYP)).toHaveLength(1);
    expect(typs.filter((t) => t === MARKET_MATCH_TYP)).toHaveLength(1);
    expect(engine.marketState.notices).toEqual([]);
    const result = [...engine.marketState.auctions.values()][0];
    expect(result).toMatchObject({
      priceMinor: 20,
      range: { low: 20, high: 20 },
      volume: 800,
      interval: { start: T0, end: T0 + Q },
    });
    expect(engine.marketState.contracts.size).toBe(1);
    // Prices: one hub-signed entry, and the same JWS retained on the prices topic.
    const prices = ledger.range(0, ledger.size).filter((e) => e.typ === PRICE_TYP);
    expect(prices).toHaveLength(1);
    expect(engine.latestPrices()[0]?.intervals[0]).toMatchObject({
      start: T0,
      clearingMinorPerKWh: 20,
      volumeWh: 800,
    });
    expect(published).toEqual([
      { topic: 'wattproof/v1/prices/north/electricity', payload: prices[0]?.jws, retain: true },
    ]);
  });

  it('a fresh engine on the same ledger folds the same market and appends nothing', () => {
    const size = ledger.size;
    const fresh = new Engine(deps());
    fresh.start();
    fresh.stop();
    expect(ledger.size).toBe(size);
    expect([...fresh.marketState.auctions.keys()]).toEqual([...engine.marketState.auctions.keys()]);
    expect(fresh.latestPrices()).toEqual(engine.latestPrices());
  });
});
