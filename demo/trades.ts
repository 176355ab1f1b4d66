// What the neighbourhood would trade next: from each home's expected surplus (PV minus load over
// the coming window; < 0 is a need), some bilateral contracts between the largest sellers and the
// largest buyers, and auction orders for what is left. Pure: the demo feeds it forecasts and
// submits the result once the hub takes contracts and orders (see docs/demo.md).

export interface HomeForecast {
  site: string;
  gw: string;
  /** Grid bus of the sample grid model the home is connected at. */
  bus: string;
  /** Expected net export over the window, Wh; negative when the home needs energy. */
  surplusWh: number;
}

export interface PlannedContract {
  seller: string;
  buyer: string;
  /** Energy per settlement interval, Wh (a multiple of 10). */
  whPerInterval: number;
  priceMinorPerKWh: number;
  window: { start: number; end: number };
}

export interface PlannedOrder {
  site: string;
  side: 'offer' | 'bid';
  wh: number;
  limitMinorPerKWh: number;
  interval: { start: number; end: number };
}

export interface TradePlan {
  contracts: PlannedContract[];
  orders: PlannedOrder[];
}

const STEP_WH = 10;

/** Whole tens of Wh, rounded down: a contract never promises energy it does not expect. */
function whole(wh: number): number {
  return Math.floor(wh / STEP_WH) * STEP_WH;
}

/**
 * Pairs sellers and buyers greedily (largest first) into at most `maxContracts` bilateral
 * contracts for the window; each remaining surplus or need becomes one auction order for the
 * first interval of the window. Prices: a fixed reference, sellers a little below, buyers above.
 */
export function planTrades(
  forecasts: readonly HomeForecast[],
  o: {
    windowStart: number;
    intervalMs: number;
    intervals: number;
    maxContracts: number;
    referenceMinorPerKWh: number;
  },
): TradePlan {
  const windowEnd = o.windowStart + o.intervalMs * o.intervals;
  const left = new Map(forecasts.map((f) => [f.site, f.surplusWh]));
  const bySurplus = (sign: 1 | -1) =>
    forecasts
      .filter((f) => whole(sign * f.surplusWh) >= STEP_WH)
      .sort((a, b) => sign * (b.surplusWh - a.surplusWh) || a.site.localeCompare(b.site));
  const sellers = bySurplus(1);
  const buyers = bySurplus(-1);
  const contracts: PlannedContract[] = [];
  for (let i = 0; i < Math.min(sellers.length, buyers.length, o.maxContracts); i++) {
    const s = sellers[i] as HomeForecast;
    const b = buyers[i] as HomeForecast;
    const wh = whole(Math.min(s.surplusWh, -b.surplusWh) / o.intervals);
    if (wh < STEP_WH) continue;
    contracts.push({
      seller: s.site,
      buyer: b.site,
      whPerInterval: wh,
      priceMinorPerKWh: o.referenceMinorPerKWh,
      window: { start: o.windowStart, end: windowEnd },
    });
    left.set(s.site, (left.get(s.site) ?? 0) - wh * o.intervals);
    left.set(b.site, (left.get(b.site) ?? 0) + wh * o.intervals);
  }
  const orders: PlannedOrder[] = [];
  const interval = { start: o.windowStart, end: o.windowStart + o.intervalMs };
  for (const f of forecasts) {
    const perInterval = (left.get(f.site) ?? 0) / o.intervals;
    const wh = whole(Math.abs(perInterval));
    if (wh < STEP_WH) continue;
    const side = perInterval > 0 ? 'offer' : 'bid';
    // Spread the limits a little per home so that the auction has a range to clear in.
    const spread = [...f.site].reduce((a, c) => a + c.charCodeAt(0), 0) % 5;
    orders.push({
      site: f.site,
      side,
      wh,
      limitMinorPerKWh:
        side === 'offer' ? o.referenceMinorPerKWh - 3 + spread : o.referenceMinorPerKWh + 1 + spread,
      interval,
    });
  }
  return { contracts, orders };
}
