// Price statistics per region, energy type and settlement interval, from the state: the market's
// clearing (auction results, or continuous matches), the bilateral contracts delivering in the
// interval, and LMPs where congestion management computed them. Pure; the hub signs the
// publication and retains it on prices/{region}/{energy} (docs/markets.md, "Prices").
import {
  type Contract,
  type EnergyContract,
  type EnergyType,
  type Interval,
  type PriceInterval,
  type PricePublication,
  parsePricePublication,
} from '../../protocol/messages/index.js';
import { intervalsOf } from '../../protocol/units.js';
import type { AuctionResult, MarketMatch } from './messages.js';

/** Contract states in which a bilateral contract counts toward prices: agreed and approved. */
export const PRICED_STATUSES: readonly string[] = ['approved', 'active', 'delivering', 'settled', 'closed'];

/** round(n / d) with halves up, for n ≥ 0, d > 0, exactly. */
function roundHalfUp(n: bigint, d: bigint): number {
  return Number((2n * n + d) / (2n * d));
}

/**
 * The Wh an energy contract delivers in each of its settlement intervals: `wh` each for
 * per 'interval'; for per 'window', wh spread evenly, floor(wh / n) each and the remainder one Wh
 * at a time to the earliest intervals (so the parts sum to wh exactly).
 */
export function contractVolumes(c: EnergyContract): { start: number; end: number; wh: number }[] {
  const ivs = intervalsOf(c.window, c.settlementPeriodMs);
  if (c.quantity.per === 'interval') return ivs.map((iv) => ({ ...iv, wh: c.quantity.wh }));
  const n = ivs.length;
  const base = Math.floor(c.quantity.wh / n);
  const rest = c.quantity.wh % n;
  return ivs.map((iv, i) => ({ ...iv, wh: base + (i < rest ? 1 : 0) }));
}

export interface PricedContract {
  id: string;
  contract: Contract;
  status: string;
}

export interface PriceInputs {
  region: string;
  energy: EnergyType;
  /** The settlement intervals to price (aligned, in order). */
  intervals: readonly Interval[];
  /** Auction results of this region's energy book (any; those of other books are ignored). */
  auctions: readonly AuctionResult[];
  /** Continuous-mode match entries (auction matches are counted through their result). */
  continuousMatches: readonly MarketMatch[];
  /** Every contract with its status (from the contracts fold). */
  contracts: readonly PricedContract[];
  /** Ids of market-made contracts: priced through the clearing, not as bilateral. */
  marketContractIds: ReadonlySet<string>;
  /**
   * LMPs per interval start, per node, minor units per MWh (floats allowed). The engine passes the
   * congestion components relative to the slack of the interval's congestion decision.
   */
  lmps?: ReadonlyMap<number, Readonly<Record<string, number>>>;
}

/** An LMP as a published integer: nearest minor unit per MWh, halves away from zero. */
export function lmpMinorPerMWh(x: number): number {
  if (!Number.isFinite(x)) throw new RangeError(`an LMP must be a finite number, got ${x}`);
  const r = Math.sign(x) * Math.round(Math.abs(x));
  return r === 0 ? 0 : r;
}

/**
 * The prices of each interval that has a market clearing price; intervals where nothing cleared
 * are left out (a published interval always has one). Clearing price: the auction's uniform
 * price, or in continuous mode the volume-weighted average of the interval's trade prices.
 * Volume: the market's traded volume (self-matches included for the auction). Bilateral: the
 * volume-weighted average price and volume of the approved, non-market contracts delivering in
 * the interval. LMPs: as given, rounded, sorted by node.
 */
export function intervalPrices(input: PriceInputs): PriceInterval[] {
  const out: PriceInterval[] = [];
  const bilateral = new Map<number, { wh: bigint; money: bigint }>();
  for (const { id, contract: c, status } of input.contracts) {
    if (c.product !== 'energy' || c.energy !== input.energy || c.region !== input.region) continue;
    if (!PRICED_STATUSES.includes(status) || input.marketContractIds.has(id)) continue;
    for (const v of contractVolumes(c)) {
      const acc = bilateral.get(v.start) ?? { wh: 0n, money: 0n };
      acc.wh += BigInt(v.wh);
      acc.money += BigInt(v.wh) * BigInt(c.priceMinorPerKWh);
      bilateral.set(v.start, acc);
    }
  }
  for (const iv of input.intervals) {
    let clearing: number | undefined;
    let volume = 0;
    const auction = input.auctions.find(
      (a) =>
        a.book.product === 'energy' &&
        a.book.region === input.region &&
        a.book.energy === input.energy &&
        a.interval.start === iv.start &&
        a.interval.end === iv.end,
    );
    if (auction?.priceMinor != null) {
      clearing = auction.priceMinor;
      volume = auction.volume;
    } else {
      let wh = 0n;
      let money = 0n;
      for (const m of input.continuousMatches) {
        const c = m.contract;
        if (c.product !== 'energy' || c.energy !== input.energy || c.region !== input.region) continue;
        if (c.window.start !== iv.start || c.window.end !== iv.end) continue;
        wh += BigInt(m.quantity);
        money += BigInt(m.quantity) * BigInt(m.priceMinor);
      }
      if (wh > 0n) {
        clearing = roundHalfUp(money, wh);
        volume = Number(wh);
      }
    }
    if (clearing === undefined) continue;
    const p: PriceInterval = {
      start: iv.start,
      end: iv.end,
      clearingMinorPerKWh: clearing,
      volumeWh: volume,
    };
    const b = bilateral.get(iv.start);
    if (b !== undefined && b.wh > 0n) {
      p.bilateralVwapMinorPerKWh = roundHalfUp(b.money, b.wh);
      p.bilateralVolumeWh = Number(b.wh);
    }
    const l = input.lmps?.get(iv.start);
    if (l !== undefined && Object.keys(l).length > 0)
      p.lmps = Object.keys(l)
        .sort()
        .map((node) => ({ node, minorPerMWh: lmpMinorPerMWh(l[node] as number) }));
    out.push(p);
  }
  return out;
}

/** The signed-to-be publication; null when no interval has a price. Throws if it would not parse. */
export function pricePublication(
  hub: string,
  region: string,
  energy: EnergyType,
  currency: string,
  intervals: PriceInterval[],
  at: number,
): PricePublication | null {
  if (intervals.length === 0) return null;
  const p: PricePublication = { hub, region, energy, currency, intervals, at };
  const r = parsePricePublication(p);
  if (!r.ok)
    throw new Error(
      `price publication does not parse: ${r.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
    );
  return p;
}
