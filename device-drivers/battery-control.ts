// Battery power setpoints through SunSpec model 124 (storage controls), with every write read back.
// A setpoint W (+ discharge, − charge) becomes OutWRte or InWRte as a percentage of WChaMax and the
// matching StorCtl_Mod bit; the rates and the revert timer go first, the mode last (writing the mode
// is what starts the device following). 0 W or a release clears the mode: self-consumption again.
// InOutWRte_RvrtTms is set on every setpoint, so the device reverts by itself if nobody comes back.
// The measured response is model 802's W (> 0 discharging) when present, else nothing.
import { decodePoint, encodePoint } from './codec.js';
import type { PointDef } from './points.js';
import type { RegisterSink, RegisterSource } from './register-source.js';
import { discoverSunSpec } from './sunspec/discovery.js';
import { type ModelLocation, modelPointDefs, sunspecModel } from './sunspec/index.js';

export const STOR_CTL_CHARGE = 1;
export const STOR_CTL_DISCHARGE = 2;

/** A write the device took but reads back differently (it clipped, ignored or rejected the value). */
export class WriteReadBackError extends Error {
  constructor(
    readonly address: number,
    readonly wrote: readonly number[],
    readonly readBack: readonly number[],
  ) {
    super(`registers ${address}.. read back [${readBack.join(', ')}] after writing [${wrote.join(', ')}]`);
    this.name = 'WriteReadBackError';
  }
}

/** Writes holding registers (function 16) and reads them back (function 3); throws if they differ. */
export async function writeAndReadBack(
  bus: RegisterSource & RegisterSink,
  unit: number,
  address: number,
  values: Uint16Array,
): Promise<void> {
  await bus.writeRegisters(unit, address, values);
  const back = await bus.readRegisters(unit, 3, address, values.length);
  for (let i = 0; i < values.length; i++)
    if (back[i] !== values[i]) throw new WriteReadBackError(address, [...values], [...back]);
}

export interface StorageRates {
  /** StorCtl_Mod: bit 0 charge, bit 1 discharge, 0 = none. */
  mode: number;
  outPct: number;
  inPct: number;
}

/**
 * The model 124 controls for a setpoint: percentages of WChaMax rounded to the rate's resolution
 * (10^sf %), and the watts they really ask for (what the device will be told). Pure.
 */
export function ratesForSetpoint(
  setpointW: number,
  wChaMax: number,
  rateSf: number,
): StorageRates & { appliedW: number } {
  if (!(wChaMax > 0)) throw new RangeError(`WChaMax must be above 0 W to set a rate, got ${wChaMax}`);
  const step = 10 ** rateSf;
  const pct = Math.min(100, Math.round((Math.abs(setpointW) * 100) / wChaMax / step) * step);
  const appliedW = Math.round((pct * wChaMax) / 100) * Math.sign(setpointW);
  if (setpointW > 0 && pct > 0) return { mode: STOR_CTL_DISCHARGE, outPct: pct, inPct: 0, appliedW };
  if (setpointW < 0 && pct > 0) return { mode: STOR_CTL_CHARGE, outPct: 0, inPct: pct, appliedW };
  return { mode: 0, outPct: 0, inPct: 0, appliedW: 0 };
}

export interface BatteryState {
  /** State of charge, % (802.SoC, else 124.ChaState), null if the device does not say. */
  socPct: number | null;
  /** Battery power, W, > 0 discharging (802.W), null if the device does not say. */
  powerW: number | null;
  /** Max charge rate, W (124.WChaMax): the base of the rates. */
  wChaMax: number;
  mode: number;
}

/** A SunSpec battery's storage controls on one unit. */
export class SunSpecBatteryControl {
  private constructor(
    private readonly bus: RegisterSource & RegisterSink,
    readonly unit: number,
    private readonly m124: { loc: ModelLocation; points: Map<string, PointDef> },
    private readonly m802: { loc: ModelLocation; points: Map<string, PointDef> } | null,
  ) {}

  /** Finds model 124 (required) and 802 (optional) on the unit. */
  static async open(
    bus: RegisterSource & RegisterSink,
    unit: number,
    opts: { bases?: readonly number[] } = {},
  ): Promise<SunSpecBatteryControl> {
    const dev = await discoverSunSpec(bus, unit, opts.bases ? { bases: opts.bases } : {});
    if (dev === null) throw new Error(`unit ${unit}: no SunSpec marker; a battery needs SunSpec model 124`);
    const model = (id: number) => {
      const loc = dev.models.find((m) => m.id === id);
      const def = sunspecModel(id);
      if (loc === undefined || def === undefined) return null;
      return { loc, points: new Map(modelPointDefs(def, loc).map((p) => [p.name, p])) };
    };
    const m124 = model(124);
    if (m124 === null)
      throw new Error(
        `unit ${unit}: no SunSpec model 124 (storage controls); models found: ${dev.models.map((m) => m.id).join(', ')}`,
      );
    return new SunSpecBatteryControl(bus, unit, m124, model(802));
  }

  private async readModel(m: { loc: ModelLocation; points: Map<string, PointDef> }) {
    const regs = await this.bus.readRegisters(this.unit, 3, m.loc.address, 2 + m.loc.length);
    const raw = (name: string) => {
      const p = m.points.get(name);
      if (p === undefined) return null;
      return decodePoint(p, regs, p.address - m.loc.address).value; // scale-factor points: unscaled
    };
    const value = (name: string): number | null => {
      const p = m.points.get(name);
      if (p === undefined) return null;
      const sf = p.sf !== undefined ? raw(p.sf) : undefined;
      const v = decodePoint(p, regs, p.address - m.loc.address, typeof sf === 'number' ? sf : null).value;
      return typeof v === 'number' ? v : null;
    };
    return { value, raw };
  }

  async state(): Promise<BatteryState> {
    const s = await this.readModel(this.m124);
    const d = this.m802 ? await this.readModel(this.m802) : null;
    const wChaMax = s.value('124.WChaMax');
    if (wChaMax === null) throw new Error(`unit ${this.unit}: 124.WChaMax has no value`);
    return {
      socPct: d?.value('802.SoC') ?? s.value('124.ChaState'),
      powerW: d?.value('802.W') ?? null,
      wChaMax,
      mode: s.value('124.StorCtl_Mod') ?? 0,
    };
  }

  private point(name: string): PointDef {
    const p = this.m124.points.get(name);
    if (p === undefined) throw new Error(`unit ${this.unit}: model 124 has no ${name}`);
    return p;
  }

  /**
   * Sets the battery's power: `setpointW` (+ discharge, − charge; 0 = release to self-consumption),
   * reverting by itself after `revertSeconds` (0 = never). Returns the watts really asked for (the
   * rate's resolution rounds). Every write is read back.
   */
  async setpoint(
    setpointW: number,
    revertSeconds: number,
  ): Promise<{ appliedW: number; rates: StorageRates }> {
    const s = await this.readModel(this.m124);
    const wChaMax = s.value('124.WChaMax');
    const sf = s.raw('124.InOutWRte_SF');
    if (wChaMax === null || typeof sf !== 'number')
      throw new Error(`unit ${this.unit}: 124.WChaMax or 124.InOutWRte_SF has no value`);
    const r = ratesForSetpoint(setpointW, wChaMax, sf);
    const out = this.point('124.OutWRte');
    const rmp = this.point('124.InOutWRte_RmpTms');
    // OutWRte, InWRte, WinTms, RvrtTms, RmpTms: adjacent, one write.
    const rates = new Uint16Array(rmp.address + rmp.size - out.address);
    const put = (name: string, v: number) => {
      const p = this.point(name);
      rates.set(encodePoint(p, v, p.sf !== undefined ? sf : 0), p.address - out.address);
    };
    put('124.OutWRte', r.outPct);
    put('124.InWRte', r.inPct);
    put('124.InOutWRte_WinTms', 0);
    put('124.InOutWRte_RvrtTms', Math.max(0, Math.min(0xfffe, Math.ceil(revertSeconds))));
    put('124.InOutWRte_RmpTms', 0);
    await writeAndReadBack(this.bus, this.unit, out.address, rates);
    const mode = this.point('124.StorCtl_Mod');
    await writeAndReadBack(this.bus, this.unit, mode.address, Uint16Array.of(r.mode));
    return { appliedW: r.appliedW, rates: { mode: r.mode, outPct: r.outPct, inPct: r.inPct } };
  }
}
