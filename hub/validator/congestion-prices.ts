// The nodal congestion prices a signed congestion decision publishes in its reasons, read back:
// congestion-state.ts packs them ("nodal-congestion-prices" reasons, `head id value, id value…`),
// the fold records them, and the engine attaches them to its price publications (docs/markets.md,
// "Prices"). Pure; imports protocol types only, so the fold can use it.
import type { Reason } from '../../protocol/messages/index.js';

/** Reason code of the packed nodal congestion prices. */
export const NODAL_CONGESTION_REASON = 'nodal-congestion-prices';
/** Reason code that replaces the reasons cut beyond the limit (the nodal prices come last). */
export const MORE_IN_INPUTS_REASON = 'more-in-inputs';

/** Units of the packed values: minor currency units (congestion price) or policy weight. */
export type NodalPriceUnit = 'minor units' | 'weight';
const UNITS: readonly NodalPriceUnit[] = ['minor units', 'weight'];

/** The head of each packed message for `unit`. */
export function nodalCongestionHead(unit: NodalPriceUnit): string {
  return `price less the slack's, ${unit} per MWh:`;
}

export interface NodalCongestionPrices {
  unit: NodalPriceUnit;
  /** Bus id → its price less the slack bus's, per MWh (integers; a bus left out has 0). */
  prices: Record<string, number>;
}

/**
 * The nodal congestion prices packed in a congestion decision's reasons (the packer leaves out
 * buses whose value is 0, so a decision without congestion has none); null when it has none,
 * when they were cut (a `more-in-inputs` reason: the list would be incomplete), or when a message
 * is not in the packed form.
 */
export function nodalCongestionPrices(reasons: readonly Reason[]): NodalCongestionPrices | null {
  if (reasons.some((r) => r.code === MORE_IN_INPUTS_REASON)) return null;
  let unit: NodalPriceUnit | undefined;
  const prices: Record<string, number> = {};
  for (const r of reasons) {
    if (r.code !== NODAL_CONGESTION_REASON) continue;
    const u = UNITS.find((x) => r.message.startsWith(`${nodalCongestionHead(x)} `));
    if (u === undefined || (unit !== undefined && u !== unit)) return null;
    unit = u;
    for (const item of r.message.slice(nodalCongestionHead(u).length + 1).split(', ')) {
      const [id, value, extra] = item.split(' ');
      const v = Number(value);
      if (!id || value === undefined || value === '' || extra !== undefined || !Number.isFinite(v))
        return null;
      if (Object.hasOwn(prices, id)) return null;
      prices[id] = v;
    }
  }
  return unit === undefined ? null : { unit, prices };
}
