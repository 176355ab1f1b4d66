// Contracts as the congestion check sees them, and the units they are in.
//
// Units: a contract delivers `quantityWh` (integer Wh) in one settlement interval of `ms`
// milliseconds. Its average power is W = Wh · 3 600 000 / ms (15 min: 1 Wh = 4 W). Line limits
// are in W (average over the interval). The LPs work in kWh per interval (Wh / 1000) so that
// objective values and duals come out in money per kWh, the unit contract prices use, and the
// numbers stay near 1 for the solver's tolerances.
import type { Network } from './dc-flow.js';

export interface CongestionContract {
  /** The contract id (ct-…), or any unique id in tests. */
  id: string;
  /** Bus where the seller injects. */
  sellerBus: string;
  /** Bus where the buyer withdraws. */
  buyerBus: string;
  /** Energy delivered in the interval, Wh (integer > 0). */
  quantityWh: number;
  /** Contract price, minor units per kWh: its value in the congestion-price LP. */
  priceMinorPerKWh?: number;
  /** Policy class (e.g. the energy type) that selects its weight and firmness. */
  class?: string;
}

export interface SettlementInterval {
  /** UTC ms, inclusive. */
  start: number;
  /** UTC ms, exclusive. */
  end: number;
}

const MS_PER_HOUR = 3_600_000;

/** Average power over the interval of an energy in Wh: W = Wh · 3 600 000 / ms. */
export function averageW(quantityWh: number, intervalMs: number): number {
  return (quantityWh * MS_PER_HOUR) / intervalMs;
}

/** Energy in Wh over the interval at an average power in W: Wh = W · ms / 3 600 000. */
export function energyWh(averagePowerW: number, intervalMs: number): number {
  return (averagePowerW * intervalMs) / MS_PER_HOUR;
}

/** A limit or flow in W as kWh per interval, the LP's unit. */
export function wToKWhPerInterval(w: number, intervalMs: number): number {
  return (w * intervalMs) / (MS_PER_HOUR * 1000);
}

/** kWh per interval back to average W. */
export function kWhPerIntervalToW(kwh: number, intervalMs: number): number {
  return (kwh * MS_PER_HOUR * 1000) / intervalMs;
}

/**
 * Net bus injections (W, generation positive) of a set of contracts at given quantities (Wh)
 * plus background injections (W). Contracts are applied in the order given.
 */
export function injectionsW(
  net: Network,
  contracts: readonly CongestionContract[],
  quantitiesWh: ArrayLike<number>,
  intervalMs: number,
  backgroundW: Readonly<Record<string, number>> = {},
): Float64Array {
  const p = new Float64Array(net.busIds.length);
  for (const [bus, w] of Object.entries(backgroundW)) {
    const i = net.busIndex.get(bus);
    if (i === undefined) throw new Error(`background injection at unknown bus "${bus}"`);
    p[i] = (p[i] as number) + w;
  }
  contracts.forEach((c, k) => {
    const s = net.busIndex.get(c.sellerBus);
    const b = net.busIndex.get(c.buyerBus);
    if (s === undefined) throw new Error(`contract ${c.id}: seller bus "${c.sellerBus}" is not in the grid`);
    if (b === undefined) throw new Error(`contract ${c.id}: buyer bus "${c.buyerBus}" is not in the grid`);
    const w = averageW(quantitiesWh[k] as number, intervalMs);
    p[s] = (p[s] as number) + w;
    p[b] = (p[b] as number) - w;
  });
  return p;
}
