// A simulated home: PV on the roof, a battery, a household load and the grid connection that
// balances them. Time is driven from outside (advanceTo); each step holds every power constant,
// so every energy counter is exactly the integral of the power the devices report.
//   grid = load − pv − battery      (grid > 0: import; battery > 0: discharging)
import { hash01, valueNoise } from './noise.js';

export interface HomeOptions {
  /** Seed of the weather and the household's habits (default 1). */
  seed?: number;
  /** Simulated time at the start, UTC ms (default: now). */
  startMs?: number;
  /** PV peak power on a clear midsummer noon, W (default 6000). */
  pvPeakW?: number;
  /** Battery capacity, Wh (default 10 000); 0 = no battery. */
  batteryWh?: number;
  /** Battery charge and discharge limits, W (default 5000 each). */
  batteryMaxChargeW?: number;
  batteryMaxDischargeW?: number;
  /** State of charge at the start, 0..1 (default 0.5), and the window it is kept in (default 0.05..1). */
  socStart?: number;
  socMin?: number;
  socMax?: number;
  /** Share of the charging energy that ends up stored (default 0.95); discharging draws W / efficiency. */
  efficiency?: number;
  /** Always-on household load, W (default 250). */
  baseLoadW?: number;
  /** Hour (UTC) of solar noon where the home stands (default 12). */
  solarNoonUtcHour?: number;
  /** Integration step, ms of simulated time (default 1000). */
  stepMs?: number;
}

/** Energy totals since the home was built, Wh (fractional; devices show whole Wh). */
export interface HomeEnergy {
  pvWh: number;
  loadWh: number;
  gridImportWh: number;
  gridExportWh: number;
  batteryChargeWh: number;
  batteryDischargeWh: number;
}

export interface HomePower {
  pvW: number;
  loadW: number;
  /** > 0 discharging, < 0 charging. */
  batteryW: number;
  /** > 0 importing, < 0 exporting. */
  gridW: number;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export class Home {
  readonly seed: number;
  readonly pvPeakW: number;
  readonly batteryWh: number;
  readonly batteryMaxChargeW: number;
  readonly batteryMaxDischargeW: number;
  readonly socMin: number;
  readonly socMax: number;
  readonly efficiency: number;
  private readonly baseLoadW: number;
  private readonly noonHour: number;
  private readonly stepMs: number;
  private t: number;
  private socValue: number;
  private p: HomePower;
  /** An external battery setpoint, W (+ discharge, − charge), or null: self-consumption. */
  private setpointW: number | null = null;
  private readonly e: HomeEnergy = {
    pvWh: 0,
    loadWh: 0,
    gridImportWh: 0,
    gridExportWh: 0,
    batteryChargeWh: 0,
    batteryDischargeWh: 0,
  };

  constructor(options: HomeOptions = {}) {
    this.seed = options.seed ?? 1;
    this.pvPeakW = options.pvPeakW ?? 6000;
    this.batteryWh = options.batteryWh ?? 10_000;
    this.batteryMaxChargeW = options.batteryMaxChargeW ?? 5000;
    this.batteryMaxDischargeW = options.batteryMaxDischargeW ?? 5000;
    this.socMin = options.socMin ?? 0.05;
    this.socMax = options.socMax ?? 1;
    this.efficiency = options.efficiency ?? 0.95;
    this.baseLoadW = options.baseLoadW ?? 250;
    this.noonHour = options.solarNoonUtcHour ?? 12;
    this.stepMs = options.stepMs ?? 1000;
    this.t = options.startMs ?? Date.now();
    this.socValue = Math.min(this.socMax, Math.max(this.socMin, options.socStart ?? 0.5));
    this.p = this.powersAt(this.t, this.stepMs);
  }

  /** Simulated time, UTC ms. */
  get now(): number {
    return this.t;
  }

  /** The powers that hold from `now` until the next step. */
  get power(): Readonly<HomePower> {
    return this.p;
  }

  get energy(): Readonly<HomeEnergy> {
    return this.e;
  }

  /** State of charge, 0..1. */
  get soc(): number {
    return this.socValue;
  }

  /** The battery setpoint in force, W (+ discharge, − charge), or null when the battery runs itself. */
  get batterySetpointW(): number | null {
    return this.setpointW;
  }

  /**
   * Puts the battery under external control (a dispatch): from now on it charges or discharges at
   * `w` (+ discharge, − charge) as far as its power limits and state-of-charge window allow; null
   * hands it back to self-consumption. Takes effect at once, for the step running now.
   */
  setBatterySetpoint(w: number | null): void {
    if (w !== null && !Number.isFinite(w))
      throw new RangeError(`battery setpoint must be finite W, got ${w}`);
    this.setpointW = w === null ? null : Math.round(w);
    this.p = this.powersAt(this.t, this.stepMs);
  }

  /** PV power the panels could give at `tMs` (daylight curve × clouds), W. */
  pvAvailableW(tMs: number): number {
    const day = Math.floor(tMs / DAY);
    const doy = (((day + 4) % 365.25) + 365.25) % 365.25; // close enough: 1970-01-01 was day 0
    // Day length swings ±4 h around 12 h over the year (mid-latitude), peak at the June solstice.
    const dayLengthH = 12 + 4 * Math.sin((2 * Math.PI * (doy - 80)) / 365.25);
    const hour = (tMs - day * DAY) / HOUR;
    const fromNoon = hour - this.noonHour;
    if (Math.abs(fromNoon) >= dayLengthH / 2) return 0;
    const elevation = Math.cos((Math.PI * fromNoon) / dayLengthH); // 1 at noon, 0 at sunrise/sunset
    const season = 0.75 + 0.25 * Math.sin((2 * Math.PI * (doy - 80)) / 365.25);
    // Clouds: some days are grey (day level), and clouds drift past (10-minute value noise).
    const dayGrey = hash01(this.seed, 1_000_000 + day);
    const drift = valueNoise(this.seed, 1, tMs, 10 * 60_000);
    const cover = Math.min(1, Math.max(0, 0.9 * dayGrey + 0.7 * drift - 0.45));
    const clearness = 1 - 0.8 * cover;
    return this.pvPeakW * season * elevation ** 1.3 * clearness;
  }

  /** Household consumption at `tMs`, W: base load, morning and evening peaks, appliances. */
  loadAt(tMs: number): number {
    const hour = (((tMs % DAY) + DAY) % DAY) / HOUR;
    const bump = (centre: number, width: number, height: number) =>
      height * Math.exp(-(((hour - centre) / width) ** 2));
    const habits = bump(7.5, 1, 700) + bump(13, 1.5, 300) + bump(19.5, 1.8, 1300);
    const fidget = 250 * valueNoise(this.seed, 2, tMs, 60_000);
    // A kettle, an oven, a washing machine: one in ten quarter hours has a 2 kW appliance on for 5 min.
    const slot = Math.floor(tMs / (15 * 60_000));
    const appliance = hash01(this.seed + 17, slot) < 0.1 && tMs % (15 * 60_000) < 5 * 60_000 ? 2000 : 0;
    return this.baseLoadW + habits + fidget + appliance;
  }

  /** Moves time forward to `tMs`, integrating energy and state of charge step by step. */
  advanceTo(tMs: number): void {
    while (this.t < tMs) {
      const dt = Math.min(this.stepMs, tMs - this.t);
      this.integrate(this.p, dt);
      this.t += dt;
      this.p = this.powersAt(this.t, this.stepMs);
    }
  }

  private integrate(p: HomePower, dtMs: number): void {
    const h = dtMs / HOUR;
    this.e.pvWh += p.pvW * h;
    this.e.loadWh += p.loadW * h;
    if (p.gridW >= 0) this.e.gridImportWh += p.gridW * h;
    else this.e.gridExportWh += -p.gridW * h;
    if (p.batteryW >= 0) {
      this.e.batteryDischargeWh += p.batteryW * h;
      if (this.batteryWh > 0) this.socValue -= (p.batteryW * h) / this.efficiency / this.batteryWh;
    } else {
      this.e.batteryChargeWh += -p.batteryW * h;
      if (this.batteryWh > 0) this.socValue += (-p.batteryW * h * this.efficiency) / this.batteryWh;
    }
    // Guard against rounding only: powersAt never plans past the limits.
    this.socValue = Math.min(this.socMax, Math.max(this.socMin, this.socValue));
  }

  /** The powers for a step of `dtMs` starting at `tMs`: self-consumption first, battery within limits. */
  private powersAt(tMs: number, dtMs: number): HomePower {
    const pvW = Math.round(this.pvAvailableW(tMs));
    const loadW = Math.round(this.loadAt(tMs));
    let batteryW = 0;
    if (this.batteryWh > 0 && dtMs > 0) {
      const h = dtMs / HOUR;
      const surplus = pvW - loadW;
      // Under a setpoint the battery follows it instead of the home's balance; limits still hold.
      const want = this.setpointW ?? -surplus;
      if (want < 0) {
        const room = ((this.socMax - this.socValue) * this.batteryWh) / this.efficiency / h;
        batteryW = -Math.min(-want, this.batteryMaxChargeW, Math.max(0, Math.floor(room)));
      } else {
        const stock = ((this.socValue - this.socMin) * this.batteryWh * this.efficiency) / h;
        batteryW = Math.min(want, this.batteryMaxDischargeW, Math.max(0, Math.floor(stock)));
      }
      batteryW = Math.max(-this.batteryMaxChargeW, Math.min(this.batteryMaxDischargeW, batteryW)) || 0;
    }
    return { pvW, loadW, batteryW, gridW: loadW - pvW - batteryW };
  }
}
