// Gas through a home's meters: a condensing boiler that heats the home as the outdoor temperature
// asks, hot water and a cooker, and (for a producer, such as a farm's biomethane upgrader) gas fed
// into the network at a steady rate with pauses. Volumes are at the meter; the energy is the
// volume times the calorific value, which only the agent applies (the meter counts m³).
import { outdoorTempC } from './heat.js';
import { hash01 } from './noise.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export interface GasUseOptions {
  seed?: number;
  /** Simulated time at the start, UTC ms (default: now). */
  startMs?: number;
  /** Heat loss of the building per kelvin, W/K (default 160); 0 = no gas heating. */
  lossWPerK?: number;
  /** Boiler efficiency, 0..1 (default 0.92). */
  boilerEfficiency?: number;
  /** The gas's calorific value, Wh per m³, used to turn the burner's power into volume (default 10 550). */
  calorificValueWhPerM3?: number;
  /** Gas fed into the network while producing, dm³ per hour (default 0: a consumer only). */
  feedInDm3PerHour?: number;
  /** Integration step, ms of simulated time (default 1000). */
  stepMs?: number;
}

/** Gas volumes since the home was built, dm³ (fractional; a pulse counter shows whole pulses). */
export interface GasTotals {
  takenDm3: number;
  fedInDm3: number;
}

export interface GasState {
  /** Gas taken, dm³ per hour. */
  takenDm3PerHour: number;
  /** Gas fed in, dm³ per hour. */
  fedInDm3PerHour: number;
}

/** What a simulated gas meter (or its pulse counter) shows. */
export interface GasSource {
  advanceTo(tMs: number): void;
  readonly totals: Readonly<GasTotals>;
  readonly state: Readonly<GasState>;
}

export class GasUse implements GasSource {
  readonly seed: number;
  private readonly lossWPerK: number;
  private readonly efficiency: number;
  private readonly whPerDm3: number;
  private readonly feedInDm3PerHour: number;
  private readonly stepMs: number;
  private t: number;
  private s: GasState;
  private readonly e: GasTotals = { takenDm3: 0, fedInDm3: 0 };

  constructor(options: GasUseOptions = {}) {
    this.seed = options.seed ?? 1;
    this.lossWPerK = options.lossWPerK ?? 160;
    this.efficiency = options.boilerEfficiency ?? 0.92;
    this.whPerDm3 = (options.calorificValueWhPerM3 ?? 10_550) / 1000;
    this.feedInDm3PerHour = options.feedInDm3PerHour ?? 0;
    this.stepMs = options.stepMs ?? 1000;
    this.t = options.startMs ?? Date.now();
    this.s = this.stateAt(this.t);
  }

  get now(): number {
    return this.t;
  }

  get totals(): Readonly<GasTotals> {
    return this.e;
  }

  get state(): Readonly<GasState> {
    return this.s;
  }

  /** Gas power the home burns at `tMs`, W: heating (through the boiler), hot water, cooking. */
  burnerW(tMs: number): number {
    const outdoor = outdoorTempC(this.seed, tMs);
    const heating = outdoor < 15 ? (this.lossWPerK * (20 - outdoor)) / this.efficiency : 0;
    const hour = (((tMs % DAY) + DAY) % DAY) / HOUR;
    const slot = Math.floor(tMs / (15 * 60_000));
    const inSlot = tMs % (15 * 60_000);
    // Cooking around 12:00 and 18:30; a shower's hot water now and then in the morning.
    const cooking = (hour > 11.5 && hour < 12.5) || (hour > 18 && hour < 19) ? 1500 : 0;
    const shower = hour > 6 && hour < 9 && hash01(this.seed + 29, slot) < 0.3 && inSlot < 8 * 60_000;
    return heating + cooking + (shower ? 18_000 : 0);
  }

  advanceTo(tMs: number): void {
    while (this.t < tMs) {
      const dt = Math.min(this.stepMs, tMs - this.t);
      const h = dt / HOUR;
      this.e.takenDm3 += this.s.takenDm3PerHour * h;
      this.e.fedInDm3 += this.s.fedInDm3PerHour * h;
      this.t += dt;
      this.s = this.stateAt(this.t);
    }
  }

  private stateAt(tMs: number): GasState {
    const takenDm3PerHour = this.burnerW(tMs) / this.whPerDm3;
    // A producer pauses one hour in eight (maintenance, a full storage bag upstream).
    const paused = hash01(this.seed + 31, Math.floor(tMs / HOUR)) < 0.125;
    return { takenDm3PerHour, fedInDm3PerHour: paused ? 0 : this.feedInDm3PerHour };
  }
}
