// A home on a heat network, seen from its heat meter: space heating that follows the outdoor
// temperature, hot water in the morning and the evening, and (for a prosumer) heat fed back into
// the network around midday, as from solar thermal collectors or a heat pump's surplus. Time is
// driven from outside (advanceTo); each step holds the power constant, so the meter's energy
// counters are exactly the integral of the power it shows.
//   power > 0: heat taken from the network (flow hotter than return)
//   power < 0: heat fed into it (return hotter than flow)
// The water flow follows from the power and the temperature difference, as a heat meter measures
// it the other way round: P = flow × c × ΔT, c = 1.163 Wh per litre and kelvin.
import { hash01, valueNoise } from './noise.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Heat capacity of water, Wh per litre and kelvin. */
export const WATER_WH_PER_L_K = 1.163;

/**
 * Outdoor air temperature, °C: an annual swing (coldest in mid-January), a daily one (coldest
 * before dawn, warmest mid-afternoon, UTC) and drifting weather, all seeded.
 */
export function outdoorTempC(seed: number, tMs: number): number {
  const day = Math.floor(tMs / DAY);
  const doy = (((day + 4) % 365.25) + 365.25) % 365.25;
  const annual = 10 - 9 * Math.cos((2 * Math.PI * (doy - 15)) / 365.25);
  const hour = (tMs - day * DAY) / HOUR;
  const daily = -4 * Math.cos((2 * Math.PI * (hour - 3)) / 24);
  const weather = 6 * (valueNoise(seed, 3, tMs, 6 * HOUR) - 0.5);
  return annual + daily + weather;
}

export interface HeatCircuitOptions {
  /** Seed of the weather and the household's habits (default 1). */
  seed?: number;
  /** Simulated time at the start, UTC ms (default: now). */
  startMs?: number;
  /** Heat loss of the building per kelvin below the indoor temperature, W/K (default 180). */
  lossWPerK?: number;
  /** Indoor temperature the heating keeps, °C (default 20). */
  indoorC?: number;
  /** Peak hot-water draw (showers, washing up), W (default 6000). */
  hotWaterPeakW?: number;
  /** Peak heat fed into the network at midday, W (default 0: a consumer only). */
  feedInPeakW?: number;
  /** Integration step, ms of simulated time (default 1000). */
  stepMs?: number;
}

/** Totals since the circuit was built (fractional; the meter shows whole units). */
export interface HeatTotals {
  /** Heat taken from the network, Wh. */
  takenWh: number;
  /** Heat fed into the network, Wh. */
  fedInWh: number;
  /** Water through the meter, litres. */
  volumeL: number;
}

export interface HeatState {
  /** > 0 heat taken, < 0 heat fed in, W. */
  powerW: number;
  /** Water temperatures at the meter, °C: flow (from the network) and return (back to it). */
  flowC: number;
  returnC: number;
  /** Water flow, litres per hour. */
  flowLph: number;
  outdoorC: number;
}

/** What a simulated heat meter shows: totals and the state that holds until the next step. */
export interface HeatSource {
  advanceTo(tMs: number): void;
  readonly totals: Readonly<HeatTotals>;
  readonly state: Readonly<HeatState>;
}

export class HeatCircuit implements HeatSource {
  readonly seed: number;
  private readonly lossWPerK: number;
  private readonly indoorC: number;
  private readonly hotWaterPeakW: number;
  private readonly feedInPeakW: number;
  private readonly stepMs: number;
  private t: number;
  private s: HeatState;
  private readonly e: HeatTotals = { takenWh: 0, fedInWh: 0, volumeL: 0 };

  constructor(options: HeatCircuitOptions = {}) {
    this.seed = options.seed ?? 1;
    this.lossWPerK = options.lossWPerK ?? 180;
    this.indoorC = options.indoorC ?? 20;
    this.hotWaterPeakW = options.hotWaterPeakW ?? 6000;
    this.feedInPeakW = options.feedInPeakW ?? 0;
    this.stepMs = options.stepMs ?? 1000;
    this.t = options.startMs ?? Date.now();
    this.s = this.stateAt(this.t);
  }

  get now(): number {
    return this.t;
  }

  get totals(): Readonly<HeatTotals> {
    return this.e;
  }

  get state(): Readonly<HeatState> {
    return this.s;
  }

  /** Heat the home needs at `tMs`, W: space heating below 16 °C outside, plus hot water. */
  demandW(tMs: number): number {
    const outdoor = outdoorTempC(this.seed, tMs);
    // Heating is off on mild days (gains from sun and people cover the last few kelvin).
    const space = outdoor < 16 ? this.lossWPerK * (this.indoorC - outdoor) : 0;
    const hour = (((tMs % DAY) + DAY) % DAY) / HOUR;
    const bump = (centre: number, width: number) => Math.exp(-(((hour - centre) / width) ** 2));
    const habit = 0.6 * bump(7, 0.5) + 0.4 * bump(21, 0.8);
    // Some quarter hours someone showers: the full draw for a few minutes.
    const slot = Math.floor(tMs / (15 * 60_000));
    const shower = hash01(this.seed + 23, slot) < habit && tMs % (15 * 60_000) < 6 * 60_000 ? 1 : 0;
    return Math.max(0, space) + this.hotWaterPeakW * shower + 150; // 150 W: circulation losses
  }

  /** Heat the home could feed into the network at `tMs`, W (a daylight curve with clouds). */
  feedInW(tMs: number): number {
    if (this.feedInPeakW <= 0) return 0;
    const hour = (((tMs % DAY) + DAY) % DAY) / HOUR;
    if (hour < 8 || hour > 18) return 0;
    const sun = Math.sin((Math.PI * (hour - 8)) / 10);
    const clouds = 0.5 + 0.5 * valueNoise(this.seed, 4, tMs, 20 * 60_000);
    return this.feedInPeakW * sun * clouds;
  }

  advanceTo(tMs: number): void {
    while (this.t < tMs) {
      const dt = Math.min(this.stepMs, tMs - this.t);
      const h = dt / HOUR;
      const p = this.s.powerW;
      if (p >= 0) this.e.takenWh += p * h;
      else this.e.fedInWh += -p * h;
      this.e.volumeL += this.s.flowLph * h;
      this.t += dt;
      this.s = this.stateAt(this.t);
    }
  }

  private stateAt(tMs: number): HeatState {
    const outdoorC = outdoorTempC(this.seed, tMs);
    const powerW = Math.round(this.demandW(tMs) - this.feedInW(tMs));
    // The network's supply temperature follows the weather (warmer water on cold days).
    const supplyC = Math.min(75, Math.max(55, 55 + 1.2 * (10 - outdoorC)));
    if (powerW === 0) return { powerW, flowC: supplyC, returnC: supplyC, flowLph: 0, outdoorC };
    // A bigger load cools the water more; a circuit is designed for about 25 K at full load.
    const deltaK = 8 + 17 * Math.min(1, Math.abs(powerW) / 10_000);
    const flowLph = Math.abs(powerW) / (WATER_WH_PER_L_K * deltaK);
    return powerW > 0
      ? { powerW, flowC: supplyC, returnC: supplyC - deltaK, flowLph, outdoorC }
      : // Feeding in, the home returns the network's water hotter than it came.
        { powerW, flowC: supplyC - deltaK, returnC: supplyC, flowLph, outdoorC };
  }
}
