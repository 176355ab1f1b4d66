// Published prices for one region and energy type, hub-signed, retained on
// prices/{region}/{energy}. Provisional: the markets issue may add fields (as a new typ version).
import { z } from 'zod';
import {
  energyType,
  hubId,
  name,
  nonNegativeInt,
  parseWith,
  type RuleIssue,
  settlementIntervalRules,
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
});

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
  });
  return out;
}

export const pricePublicationSchema = withRules(structure, rules);
export type PricePublication = z.output<typeof pricePublicationSchema>;

export function parsePricePublication(payload: unknown) {
  return parseWith(pricePublicationSchema, payload);
}
