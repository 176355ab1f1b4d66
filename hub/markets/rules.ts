// The market rules of one hub: settlement period, currency, gate closure, matching mode, and the
// terms every market-made contract gets (penalty, dispute window, flexibility prices). Recorded
// by hash in every auction result, so anyone can recompute a clearing with the same rules.
import { z } from 'zod';
import { currency, nonNegativeInt, parseWith } from '../../protocol/messages/index.js';
import { SETTLEMENT_PERIODS_MS } from '../../protocol/units.js';
import { canonicalHashB64url } from '../validator/congestion/canonical.js';

export const MARKET_MODES = ['auction', 'continuous'] as const;
export type MarketMode = (typeof MARKET_MODES)[number];

export const marketRulesSchema = z.strictObject({
  /** The ledger's currency; orders in another currency take part in no book. */
  currency,
  /** The market's settlement period, ms; orders with another period take part in no book. */
  settlementPeriodMs: z
    .int()
    .refine((n) => SETTLEMENT_PERIODS_MS.includes(n), `must be one of ${SETTLEMENT_PERIODS_MS.join(', ')} ms`)
    .default(900_000),
  /**
   * The gate of an interval closes this long before the interval starts, ms: the auction clears
   * then, and continuous matching for the interval stops. Leaves time for validator review and
   * activation, which must both happen before the window starts.
   */
  gateClosureLeadMs: nonNegativeInt.default(300_000),
  /** auction: pay-as-clear at gate closure (default); continuous: price-time priority. */
  mode: z.enum(MARKET_MODES).default('auction'),
  /** Dispute window of every market-made contract, ms. */
  disputeWindowMs: nonNegativeInt.default(7 * 86_400_000),
  /** Energy contracts: the seller's penalty per kWh short = ceil(price × percent / 100). */
  energyPenaltyPercent: nonNegativeInt.default(100),
  /** Flexibility contracts: response energy price and non-delivery penalty, minor units per kWh. */
  flexibility: z
    .strictObject({ responseMinorPerKWh: nonNegativeInt, penaltyMinorPerKWh: nonNegativeInt })
    .default({ responseMinorPerKWh: 30, penaltyMinorPerKWh: 60 }),
  /** Ingest refuses an order whose createdAt is further than this from the hub's clock, ms. */
  maxClockSkewMs: nonNegativeInt.default(60_000),
});
export type MarketRules = z.output<typeof marketRulesSchema>;

export function parseMarketRules(input: unknown) {
  return parseWith(marketRulesSchema, input);
}

/** The rules with defaults filled in; throws naming each bad field. */
export function marketRules(input: z.input<typeof marketRulesSchema>): MarketRules {
  const r = parseMarketRules(input);
  if (!r.ok)
    throw new Error(`invalid market rules: ${r.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
  return r.value;
}

/** base64url SHA-256 of the rules' canonical JSON (keys sorted): recorded in auction results. */
export function marketRulesHash(rules: MarketRules): string {
  return canonicalHashB64url(rules);
}

/** When the gate of the interval starting at `intervalStart` closes. */
export function gateClosureOf(intervalStart: number, rules: MarketRules): number {
  return intervalStart - rules.gateClosureLeadMs;
}
