// Published prices for one region and energy type, hub-signed, retained on
// prices/{region}/{energy}. The markets work added the optional bilateral and LMP fields
// (docs/markets.md, "Prices"); a payload without them is as before.
import { z } from 'zod';
import {
  energyType,
  hubId,
  name,
  nonNegativeInt,
  parseWith,
  positiveInt,
  type RuleIssue,
  safeInt,
  settlementIntervalRules,
  sortedUniqueRules,
  utcMs,
  withRules,
} from './common.js';

export const PRICE_TYP = 'wattproof.price.v1';

export const currency = z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as "EUR"');

export const priceInterval = z.strictObject({
  start: utcMs,
  end: utcMs,
  /** Clearing (marginal) price, minor currency units per kWh. */
  clearingMinorPerKWh: nonNegativeInt,
  /** Volume traded in the interval, Wh. */
  volumeWh: nonNegativeInt,
  /** Volume-weighted average price of the bilateral contracts delivering in the interval. */
  bilateralVwapMinorPerKWh: nonNegativeInt.optional(),
  /** Their volume in the interval, Wh (present exactly when the average is). */
  bilateralVolumeWh: positiveInt.optional(),
  /** Locational marginal prices from congestion management, per grid node, sorted by node. */
  lmps: z
    .array(z.strictObject({ node: name, minorPerMWh: safeInt }))
    .min(1)
    .max(10_000)
    .optional(),
});
export type PriceInterval = z.output<typeof priceInterval>;

const structure = z.strictObject({
  hub: hubId,
  region: name,
  energy: energyType,
  currency,
  intervals: z.array(priceInterval).min(1).max(10_000),
  at: utcMs,
});

function rules(v: z.output<typeof structure>): RuleIssue[] {
  const out: RuleIssue[] = [];
  v.intervals.forEach((iv, i) => {
    out.push(...settlementIntervalRules(iv, ['intervals', i]));
    const before = v.intervals[i - 1];
    if (before && iv.start < before.end)
      out.push({ path: ['intervals', i, 'start'], message: 'intervals must be in order and not overlap' });
    if ((iv.bilateralVwapMinorPerKWh === undefined) !== (iv.bilateralVolumeWh === undefined))
      out.push({
        path: ['intervals', i, 'bilateralVolumeWh'],
        message: 'bilateralVwapMinorPerKWh and bilateralVolumeWh go together (both or neither)',
      });
    if (iv.lmps !== undefined)
      out.push(
        ...sortedUniqueRules(
          iv.lmps.map((l) => l.node),
          ['intervals', i, 'lmps'],
        ),
      );
  });
  return out;
}

export const pricePublicationSchema = withRules(structure, rules);
export type PricePublication = z.output<typeof pricePublicationSchema>;

export function parsePricePublication(payload: unknown) {
  return parseWith(pricePublicationSchema, payload);
}
