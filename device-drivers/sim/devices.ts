// The simulated devices: each turns the shared Home's state into the registers a real device of
// its kind would show. SunSpec devices use the project's SunSpec tables (SunSpecImage); the
// Eastron SDM630 has its own input-register map of float32 values.
import { decodeRaw, encodeRaw } from '../codec.js';
import { SunSpecImage } from '../sunspec/image.js';
import type { SimClock } from './clock.js';
import { FaultSwitches } from './faults.js';
import type { ServedDevice } from './modbus-handler.js';
import { type GasSource, GasUse, type GasUseOptions } from './physics/gas.js';
import { HeatCircuit, type HeatCircuitOptions, type HeatSource } from './physics/heat.js';
import type { Home, HomeEnergy } from './physics/home.js';
import { hash01 } from './physics/noise.js';
import { RegisterBank } from './register-bank.js';

export const DEVICE_KINDS = [
  'sunspec-inverter',
  'sunspec-meter',
  'sunspec-battery',
  'sdm630',
  'heat-meter',
  'gas-meter',
] as const;
export type DeviceKind = (typeof DEVICE_KINDS)[number];

export function isDeviceKind(s: string): s is DeviceKind {
  return (DEVICE_KINDS as readonly string[]).includes(s);
}

export const DEVICE_DESCRIPTIONS: Readonly<Record<DeviceKind, string>> = {
  'sunspec-inverter': 'SunSpec PV inverter, 3-phase, 2 MPPT inputs (models 1, 103, 160)',
  'sunspec-meter': 'SunSpec grid meter, 3-phase (models 1, 203): W, TotWhImp, TotWhExp',
  'sunspec-battery': 'SunSpec battery (models 1, 124, 802): SoC, W (> 0 discharging)',
  sdm630: 'Eastron SDM630 grid meter: float32 input registers (function 4), kWh counters',
  'heat-meter': 'Itron CF Echo II heat meter (Modbus card): float32 holding registers, kWh of heat',
  'gas-meter': 'gas meter pulses (0.01 m³) on an iSMA SFAR-1M-4DI: 32-bit counters, low word first',
};

export interface SimDevice extends ServedDevice {
  readonly kind: DeviceKind;
  readonly unit: number;
  /** SunSpec base address, or null for a non-SunSpec device. */
  readonly base: number | null;
  readonly serial: string;
  /** Puts the device's energy counters back to zero (a meter swapped or reset: a fault to detect). */
  resetCounters(): void;
}

export interface DeviceContext {
  readonly home: Home;
  readonly clock: SimClock;
  readonly unit: number;
  /** SunSpec base address (40000 unless told). */
  readonly base?: number;
  /** The heat meter's circuit (seed and start default to the home's). */
  readonly heat?: HeatCircuitOptions;
  /** The gas meter's household or producer (seed and start default to the home's). */
  readonly gas?: GasUseOptions;
}

/**
 * A device's view of a Home energy total: it starts at a plausible reading for a device that has
 * been in service for a while (never 0, which SunSpec reserves for "no value"), grows with the
 * total, and can be reset.
 */
class Counter {
  private offsetWh: number;
  private baselineWh: number;

  constructor(
    private readonly home: Home,
    private readonly pick: (e: HomeEnergy) => number,
    startWh: number,
  ) {
    this.offsetWh = startWh;
    this.baselineWh = pick(home.energy);
  }

  /** Whole Wh (floor: a counter never shows energy it has not counted yet). */
  get wh(): number {
    return Math.floor(this.offsetWh + this.pick(this.home.energy) - this.baselineWh);
  }

  reset(): void {
    this.offsetWh = 0;
    this.baselineWh = this.pick(this.home.energy);
  }
}

function startReading(home: Home, unit: number, which: number, spanWh: number): number {
  return Math.floor(100_000 + hash01(home.seed + which, unit) * spanWh);
}

/** Mains voltage, a little alive: 230 V ± 3 V, slowly wandering, per phase. */
function voltage(home: Home, phase: number): number {
  return (
    230 +
    3 * Math.sin(home.now / 97_000 + phase * 2.1) +
    (hash01(home.seed, Math.floor(home.now / 5000) + phase) - 0.5)
  );
}

function frequency(home: Home): number {
  return 50 + 0.02 * Math.sin(home.now / 31_000);
}

/** Splits an integer power over three phases so that the phases add up to it exactly. */
function threePhases(w: number): [number, number, number] {
  const a = Math.trunc(w / 3);
  return [a, a, w - 2 * a];
}

abstract class SunSpecDevice implements SimDevice {
  abstract readonly kind: DeviceKind;
  readonly bank = new RegisterBank();
  readonly faults = new FaultSwitches();
  readonly unit: number;
  readonly base: number;
  readonly serial: string;
  /** The SunSpec register image the device serves (tests decode points from it). */
  readonly image: SunSpecImage;
  protected readonly home: Home;
  private readonly clock: SimClock;

  constructor(
    ctx: DeviceContext,
    models: ConstructorParameters<typeof SunSpecImage>[1],
    md: string,
    serialTag: string,
  ) {
    this.home = ctx.home;
    this.clock = ctx.clock;
    this.unit = ctx.unit;
    this.base = ctx.base ?? 40000;
    this.serial = `${serialTag}-${String(ctx.home.seed).padStart(4, '0')}-${String(ctx.unit).padStart(3, '0')}`;
    this.image = new SunSpecImage(this.base, models);
    const img = this.image;
    img.set('1.Mn', 'Wattproof Sim');
    img.set('1.Md', md);
    img.set('1.Opt', 'simulated');
    img.set('1.Vr', '1.0.0');
    img.set('1.SN', this.serial);
    img.set('1.DA', ctx.unit);
  }

  /** Writes the state of the Home into the image; called before every request. */
  protected abstract update(): void;

  refresh(): void {
    this.home.advanceTo(this.clock.now());
    this.update();
    this.bank.set('holding', this.base, this.image.registers);
  }

  abstract resetCounters(): void;

  /** Sets scale factors once (they never change on these devices). */
  protected sfs(values: Record<string, number>): void {
    for (const [name, v] of Object.entries(values)) this.image.set(name, v);
  }

  /** Lets a SunSpec point be written (function 6/16); the image keeps what was written. */
  protected writable(name: string): void {
    const p = this.image.point(name);
    this.bank.allowWrites(p.address, p.size, (address, values) => {
      this.image.registers.set(values, address - this.base);
    });
  }
}

class SunSpecInverter extends SunSpecDevice {
  readonly kind = 'sunspec-inverter';
  private readonly acWh: Counter;
  private readonly dcWh: [Counter, Counter];

  constructor(ctx: DeviceContext) {
    super(ctx, [{ id: 1 }, { id: 103 }, { id: 160, repeats: 2 }], 'SimInverter 6K3P', 'SIMINV');
    const start = startReading(ctx.home, ctx.unit, 11, 20_000_000);
    this.acWh = new Counter(ctx.home, (e) => e.pvWh, start);
    // The two strings share the DC side evenly; DC energy = AC energy / 0.97 (inverter efficiency).
    this.dcWh = [
      new Counter(ctx.home, (e) => e.pvWh / 0.97 / 2, Math.floor(start / 0.97 / 2)),
      new Counter(ctx.home, (e) => e.pvWh / 0.97 / 2, Math.floor(start / 0.97 / 2)),
    ];
    this.sfs({
      '103.A_SF': -2,
      '103.V_SF': -1,
      '103.W_SF': 0,
      '103.Hz_SF': -2,
      '103.VA_SF': 0,
      '103.VAr_SF': 0,
      '103.PF_SF': 0,
      '103.WH_SF': 0,
      '103.DCA_SF': -2,
      '103.DCV_SF': -1,
      '103.DCW_SF': 0,
      '103.Tmp_SF': -1,
      '160.DCA_SF': -2,
      '160.DCV_SF': -1,
      '160.DCW_SF': 0,
      '160.DCWH_SF': 0,
    });
    const img = this.image;
    img.set('160.N', 2);
    img.set('160.TmsPer', 0);
    img.set('160.Evt', 0);
    for (const k of [1, 2]) {
      img.set(`160.module[${k}].ID`, k);
      img.set(`160.module[${k}].IDStr`, `PV${k}`);
      img.set(`160.module[${k}].DCEvt`, 0);
    }
    this.update();
  }

  protected update(): void {
    const img = this.image;
    const w = this.home.power.pvW;
    const on = w > 0;
    const v = [voltage(this.home, 0), voltage(this.home, 1), voltage(this.home, 2)];
    const [wa, wb, wc] = threePhases(w);
    img.set('103.AphA', wa / (v[0] ?? 230));
    img.set('103.AphB', wb / (v[1] ?? 230));
    img.set('103.AphC', wc / (v[2] ?? 230));
    img.set('103.A', wa / (v[0] ?? 230) + wb / (v[1] ?? 230) + wc / (v[2] ?? 230));
    img.set('103.PhVphA', v[0] ?? 230);
    img.set('103.PhVphB', v[1] ?? 230);
    img.set('103.PhVphC', v[2] ?? 230);
    img.set('103.W', w);
    img.set('103.Hz', frequency(this.home));
    img.set('103.VA', w);
    img.set('103.VAr', 0);
    img.set('103.PF', on ? 100 : null);
    img.set('103.WH', this.acWh.wh);
    const dcW = Math.round(w / 0.97);
    const dcV = on ? 580 + 40 * Math.min(1, w / this.home.pvPeakW) : 0;
    img.set('103.DCW', dcW);
    img.set('103.DCV', dcV);
    img.set('103.DCA', on ? dcW / dcV : 0);
    img.set('103.TmpCab', 25 + w / 400);
    img.set('103.St', on ? 4 : 2);
    img.set('103.Evt1', 0);
    img.set('103.Evt2', 0);
    const seconds = Math.floor(this.home.now / 1000) >>> 0;
    for (const k of [1, 2] as const) {
      const m = `160.module[${k}]`;
      const half = k === 1 ? Math.floor(dcW / 2) : dcW - Math.floor(dcW / 2);
      img.set(`${m}.DCW`, half);
      img.set(`${m}.DCV`, dcV);
      img.set(`${m}.DCA`, on ? half / dcV : 0);
      img.set(`${m}.DCWH`, this.dcWh[k - 1]?.wh ?? null);
      img.set(`${m}.Tms`, seconds);
      img.set(`${m}.Tmp`, Math.round(25 + w / 400));
      img.set(`${m}.DCSt`, on ? 4 : 2);
    }
  }

  resetCounters(): void {
    this.acWh.reset();
    for (const c of this.dcWh) c.reset();
  }
}

class SunSpecMeter extends SunSpecDevice {
  readonly kind = 'sunspec-meter';
  private readonly imp: Counter;
  private readonly exp: Counter;

  constructor(ctx: DeviceContext) {
    super(ctx, [{ id: 1 }, { id: 203 }], 'SimMeter 3P', 'SIMMTR');
    this.imp = new Counter(ctx.home, (e) => e.gridImportWh, startReading(ctx.home, ctx.unit, 21, 30_000_000));
    this.exp = new Counter(ctx.home, (e) => e.gridExportWh, startReading(ctx.home, ctx.unit, 22, 10_000_000));
    this.sfs({
      '203.A_SF': -2,
      '203.V_SF': -1,
      '203.Hz_SF': -2,
      '203.W_SF': 0,
      '203.VA_SF': 0,
      '203.VAR_SF': 0,
      '203.PF_SF': 0,
      '203.TotWh_SF': 0,
      '203.TotVAh_SF': 0,
      '203.TotVArh_SF': 0,
    });
    this.update();
  }

  protected update(): void {
    const img = this.image;
    const w = this.home.power.gridW;
    const v = [voltage(this.home, 0), voltage(this.home, 1), voltage(this.home, 2)] as const;
    const phases = threePhases(w);
    const names = ['A', 'B', 'C'] as const;
    let amps = 0;
    names.forEach((ph, i) => {
      const volts = v[i] ?? 230;
      const a = Math.abs(phases[i] ?? 0) / volts;
      amps += a;
      img.set(`203.Aph${ph}`, a);
      img.set(`203.PhVph${ph}`, volts);
      img.set(`203.W${'ph' + ph}`, phases[i] ?? 0);
      img.set(`203.VAph${ph}`, Math.abs(phases[i] ?? 0));
      img.set(`203.VARph${ph}`, 0);
      img.set(`203.PFph${ph}`, 100);
    });
    img.set('203.A', amps);
    img.set('203.PhV', (v[0] + v[1] + v[2]) / 3);
    img.set('203.PhVphAB', v[0] * Math.sqrt(3));
    img.set('203.PhVphBC', v[1] * Math.sqrt(3));
    img.set('203.PhVphCA', v[2] * Math.sqrt(3));
    img.set('203.PPV', ((v[0] + v[1] + v[2]) / 3) * Math.sqrt(3));
    img.set('203.Hz', frequency(this.home));
    img.set('203.W', w);
    img.set('203.VA', Math.abs(w));
    img.set('203.VAR', 0);
    img.set('203.PF', 100);
    img.set('203.TotWhImp', this.imp.wh);
    img.set('203.TotWhExp', this.exp.wh);
    img.set('203.Evt', 0);
  }

  resetCounters(): void {
    this.imp.reset();
    this.exp.reset();
  }
}

class SunSpecBattery extends SunSpecDevice {
  readonly kind = 'sunspec-battery';
  private heartbeat = 0;

  constructor(ctx: DeviceContext) {
    super(ctx, [{ id: 1 }, { id: 124 }, { id: 802 }], 'SimBattery 10kWh', 'SIMBAT');
    const h = ctx.home;
    this.sfs({
      '124.WChaMax_SF': 0,
      '124.WChaDisChaGra_SF': 0,
      '124.VAChaMax_SF': 0,
      '124.MinRsvPct_SF': 0,
      '124.ChaState_SF': -1,
      '124.StorAval_SF': -1,
      '124.InBatV_SF': -1,
      '124.InOutWRte_SF': 0,
      '802.AHRtg_SF': 0,
      '802.WHRtg_SF': 0,
      '802.WChaDisChaMax_SF': 0,
      '802.DisChaRte_SF': 0,
      '802.SoC_SF': -1,
      '802.DoD_SF': 0,
      '802.SoH_SF': 0,
      '802.V_SF': -1,
      '802.CellV_SF': -3,
      '802.A_SF': -2,
      '802.AMax_SF': 0,
      '802.W_SF': 0,
    });
    const img = this.image;
    img.set('124.WChaMax', h.batteryMaxChargeW);
    img.set('124.WChaGra', 100);
    img.set('124.WDisChaGra', 100);
    img.set('124.StorCtl_Mod', 0);
    img.set('124.MinRsvPct', Math.round(h.socMin * 100));
    img.set('124.ChaGriSet', 0);
    img.set('802.AHRtg', Math.round(h.batteryWh / 400));
    img.set('802.WHRtg', h.batteryWh);
    img.set('802.WChaRteMax', h.batteryMaxChargeW);
    img.set('802.WDisChaRteMax', h.batteryMaxDischargeW);
    img.set('802.SoCMax', h.socMax * 100);
    img.set('802.SoCMin', h.socMin * 100);
    img.set('802.SoH', 100);
    img.set('802.LocRemCtl', 1);
    img.set('802.Typ', 4);
    img.set('802.AlmRst', 0);
    img.set('802.SetOp', 1);
    img.set('802.SetInvState', 3);
    img.set('802.AChaMax', Math.round(h.batteryMaxChargeW / 400));
    img.set('802.ADisChaMax', Math.round(h.batteryMaxDischargeW / 400));
    for (const name of [
      '124.WChaMax',
      '124.StorCtl_Mod',
      '124.MinRsvPct',
      '802.SetOp',
      '802.SetInvState',
      '802.AlmRst',
    ]) {
      this.writable(name);
    }
    this.update();
  }

  protected update(): void {
    const img = this.image;
    const h = this.home;
    const w = h.power.batteryW;
    const soc = h.soc;
    const volts = 380 + 40 * soc;
    const state = w > 0 ? 3 : w < 0 ? 4 : soc >= h.socMax - 1e-9 ? 5 : soc <= h.socMin + 1e-9 ? 2 : 6;
    img.set('124.ChaState', soc * 100);
    img.set('124.StorAval', ((soc - h.socMin) * h.batteryWh) / volts);
    img.set('124.InBatV', volts);
    img.set('124.ChaSt', state);
    img.set('802.SoC', soc * 100);
    img.set('802.DoD', Math.round((1 - soc) * 100));
    img.set('802.NCyc', Math.floor(h.energy.batteryDischargeWh / Math.max(1, h.batteryWh)));
    img.set('802.ChaSt', state);
    img.set('802.State', 3);
    img.set('802.Hb', this.heartbeat);
    this.heartbeat = (this.heartbeat + 1) & 0xfffe; // 0xFFFF is "no value" for a uint16
    img.set('802.Evt1', 0);
    img.set('802.Evt2', 0);
    img.set('802.EvtVnd1', 0);
    img.set('802.EvtVnd2', 0);
    img.set('802.V', volts);
    img.set('802.CellVAvg', volts / 120);
    img.set('802.A', w / volts);
    img.set('802.W', w);
  }

  resetCounters(): void {
    // Model 802 has no energy counters; the cycle count stays (a battery does not forget its age).
  }
}

/**
 * Eastron SDM630 (Modbus v2): measurements as big-endian float32 pairs in input registers
 * (function 4), energy in kWh. Addresses are the manual's, counted from 0.
 */
export const SDM630_REGISTERS = {
  voltageL1: 0x00,
  voltageL2: 0x02,
  voltageL3: 0x04,
  currentL1: 0x06,
  currentL2: 0x08,
  currentL3: 0x0a,
  powerL1: 0x0c,
  powerL2: 0x0e,
  powerL3: 0x10,
  apparentL1: 0x12,
  apparentL2: 0x14,
  apparentL3: 0x16,
  reactiveL1: 0x18,
  reactiveL2: 0x1a,
  reactiveL3: 0x1c,
  powerFactorL1: 0x1e,
  powerFactorL2: 0x20,
  powerFactorL3: 0x22,
  averageVoltage: 0x2a,
  averageCurrent: 0x2e,
  sumCurrent: 0x30,
  totalPower: 0x34,
  totalApparent: 0x38,
  totalReactive: 0x3c,
  totalPowerFactor: 0x3e,
  frequency: 0x46,
  importKwh: 0x48,
  exportKwh: 0x4a,
  importKvarh: 0x4c,
  exportKvarh: 0x4e,
  voltageL1L2: 0xc8,
  voltageL2L3: 0xca,
  voltageL3L1: 0xcc,
  neutralCurrent: 0xe0,
  totalKwh: 0x156,
  totalKvarh: 0x158,
  importKwhL1: 0x15a,
  importKwhL2: 0x15c,
  importKwhL3: 0x15e,
  exportKwhL1: 0x160,
  exportKwhL2: 0x162,
  exportKwhL3: 0x164,
} as const;

/** Input registers the SDM630 answers for (0x0000..0x017F); any other address gets exception 2. */
const SDM630_INPUT_SPAN = 0x180;

const FLOAT32 = { type: 'float32' } as const;
const UINT32 = { type: 'uint32', sentinels: 'none' } as const;

class Sdm630 implements SimDevice {
  readonly kind = 'sdm630';
  readonly base = null;
  readonly bank = new RegisterBank();
  readonly faults = new FaultSwitches();
  readonly unit: number;
  readonly serial: string;
  private readonly home: Home;
  private readonly clock: SimClock;
  private readonly imp: Counter;
  private readonly exp: Counter;

  constructor(ctx: DeviceContext) {
    this.home = ctx.home;
    this.clock = ctx.clock;
    this.unit = ctx.unit;
    const serialNumber = 20_000_000 + Math.floor(hash01(ctx.home.seed + 31, ctx.unit) * 9_000_000);
    this.serial = String(serialNumber);
    this.imp = new Counter(ctx.home, (e) => e.gridImportWh, startReading(ctx.home, ctx.unit, 32, 30_000_000));
    this.exp = new Counter(ctx.home, (e) => e.gridExportWh, startReading(ctx.home, ctx.unit, 33, 10_000_000));
    this.bank.set('input', 0, new Uint16Array(SDM630_INPUT_SPAN));
    // Holding registers: settings (float32) and the identity block (serial number, meter code).
    const holding = (address: number, words: Uint16Array) => this.bank.set('holding', address, words);
    holding(0x0a, encodeRaw(FLOAT32, 3)); // system type: 3 = three phase, four wire
    holding(0x12, encodeRaw(FLOAT32, 0)); // parity/stop: one stop bit, no parity
    holding(0x14, encodeRaw(FLOAT32, ctx.unit)); // Modbus address
    holding(0x1c, encodeRaw(FLOAT32, 2)); // baud code 2 = 9600
    holding(0xfc00, encodeRaw(UINT32, serialNumber));
    holding(0xfc02, Uint16Array.of(0x0070)); // meter code: SDM630
    this.bank.allowWrites(0x12, 2);
    this.bank.allowWrites(0x14, 2);
    this.bank.allowWrites(0x1c, 2);
    this.update();
  }

  private put(name: keyof typeof SDM630_REGISTERS, value: number): void {
    this.bank.set('input', SDM630_REGISTERS[name], encodeRaw(FLOAT32, value));
  }

  refresh(): void {
    this.home.advanceTo(this.clock.now());
    this.update();
  }

  private update(): void {
    const h = this.home;
    const w = h.power.gridW;
    const v = [voltage(h, 0), voltage(h, 1), voltage(h, 2)] as const;
    const phases = threePhases(w);
    const amps = phases.map((p, i) => Math.abs(p) / (v[i] ?? 230));
    const L = ['L1', 'L2', 'L3'] as const;
    L.forEach((l, i) => {
      this.put(`voltage${l}`, v[i] ?? 230);
      this.put(`current${l}`, amps[i] ?? 0);
      this.put(`power${l}`, phases[i] ?? 0);
      this.put(`apparent${l}`, Math.abs(phases[i] ?? 0));
      this.put(`reactive${l}`, 0);
      this.put(`powerFactor${l}`, 1);
    });
    this.put('averageVoltage', (v[0] + v[1] + v[2]) / 3);
    const sumA = amps.reduce((a, b) => a + b, 0);
    this.put('averageCurrent', sumA / 3);
    this.put('sumCurrent', sumA);
    this.put('totalPower', w);
    this.put('totalApparent', Math.abs(w));
    this.put('totalReactive', 0);
    this.put('totalPowerFactor', 1);
    this.put('frequency', frequency(h));
    const impKwh = this.imp.wh / 1000;
    const expKwh = this.exp.wh / 1000;
    this.put('importKwh', impKwh);
    this.put('exportKwh', expKwh);
    this.put('totalKwh', impKwh + expKwh);
    for (const l of L) {
      this.put(`importKwh${l}`, impKwh / 3);
      this.put(`exportKwh${l}`, expKwh / 3);
    }
    this.put('voltageL1L2', v[0] * Math.sqrt(3));
    this.put('voltageL2L3', v[1] * Math.sqrt(3));
    this.put('voltageL3L1', v[2] * Math.sqrt(3));
  }

  resetCounters(): void {
    this.imp.reset();
    this.exp.reset();
  }
}

/** A total (Wh, litres, dm³) as a device shows it: from a starting reading, floored, resettable. */
class TotalCounter {
  private offset: number;
  private baseline: number;

  constructor(
    private readonly total: () => number,
    start: number,
  ) {
    this.offset = start;
    this.baseline = total();
  }

  get value(): number {
    return Math.floor(this.offset + this.total() - this.baseline);
  }

  /** The counter shows `v` from now on (a reset to 0, or an installer presetting it). */
  set(v: number): void {
    this.offset = v;
    this.baseline = this.total();
  }
}

/**
 * Itron CF Echo II heat meter with its Modbus card: every value a big-endian float32 in holding
 * registers 0..17 (the card's table, 0-based). Energy in kWh, volume in litres, power in 0.1 kW,
 * temperatures in 0.1 °C, their difference in 0.01 K; negative values are sent as their absolute
 * value. Heat taken counts in the energy index, heat fed in in the cooling index.
 */
export const CF_ECHO_REGISTERS = {
  serialNumber: 0,
  energyKwh: 2,
  volumeL: 4,
  power100W: 6,
  flowLph: 8,
  flowTemp01C: 10,
  returnTemp01C: 12,
  difference001K: 14,
  coolingKwh: 16,
} as const;

export class HeatMeterDevice implements SimDevice {
  readonly kind = 'heat-meter';
  readonly base = null;
  readonly bank = new RegisterBank();
  readonly faults = new FaultSwitches();
  readonly unit: number;
  readonly serial: string;
  /** The physics the meter measures (the tests may drive their own). */
  readonly source: HeatSource;
  private readonly clock: SimClock;
  private readonly serialNumber: number;
  private readonly taken: TotalCounter;
  private readonly fedIn: TotalCounter;
  private readonly volume: TotalCounter;

  constructor(ctx: DeviceContext, source?: HeatSource) {
    this.clock = ctx.clock;
    this.unit = ctx.unit;
    this.source = source ?? new HeatCircuit({ seed: ctx.home.seed, startMs: ctx.home.now, ...ctx.heat });
    // A float32 holds whole numbers exactly below 2^24: a 7-digit serial survives the card.
    this.serialNumber = 1_000_000 + Math.floor(hash01(ctx.home.seed + 41, ctx.unit) * 8_000_000);
    this.serial = String(this.serialNumber);
    const t = this.source.totals;
    // Below 16 384 kWh a float32 kWh reading still resolves whole Wh (its step is under 1 Wh); a
    // meter a few years in service starts there.
    this.taken = new TotalCounter(() => t.takenWh, startReading(ctx.home, ctx.unit, 42, 6_000_000));
    this.fedIn = new TotalCounter(() => t.fedInWh, startReading(ctx.home, ctx.unit, 43, 1_000_000));
    this.volume = new TotalCounter(() => t.volumeL, startReading(ctx.home, ctx.unit, 44, 500_000));
    this.bank.set('holding', 0, new Uint16Array(18));
    this.update();
  }

  refresh(): void {
    this.source.advanceTo(this.clock.now());
    this.update();
  }

  private put(name: keyof typeof CF_ECHO_REGISTERS, value: number): void {
    this.bank.set('holding', CF_ECHO_REGISTERS[name], encodeRaw(FLOAT32, value));
  }

  private update(): void {
    const s = this.source.state;
    this.put('serialNumber', this.serialNumber);
    this.put('energyKwh', this.taken.value / 1000);
    this.put('coolingKwh', this.fedIn.value / 1000);
    this.put('volumeL', this.volume.value);
    this.put('power100W', Math.round(Math.abs(s.powerW) / 100));
    this.put('flowLph', Math.round(s.flowLph));
    this.put('flowTemp01C', Math.round(s.flowC * 10));
    this.put('returnTemp01C', Math.round(s.returnC * 10));
    this.put('difference001K', Math.round(Math.abs(s.flowC - s.returnC) * 100));
  }

  resetCounters(): void {
    this.taken.set(0);
    this.fedIn.set(0);
    this.volume.set(0);
    this.update();
  }
}

/**
 * iSMA CONTROLLI SFAR-1M-4DI (0-based addresses): version/type and module address in input
 * registers 0 and 1, input states in input register 50, four 32-bit pulse counters in holding
 * registers 52..59 (least significant register first; writable, so an installer can preset them
 * to the meter's index) and their captured copies in 60..67. Input 1 counts the gas meter that
 * takes gas from the network, input 2 a feed-in meter; one pulse is 0.01 m³ = 10 dm³.
 */
export const SFAR_4DI_REGISTERS = {
  versionType: 0,
  moduleAddress: 1,
  baudRate: 2,
  inputs: 50,
  counter1: 52,
  counter2: 54,
  counter3: 56,
  counter4: 58,
  captured1: 60,
} as const;

/**
 * The Version/Type word (input register 0): firmware version × 10 in the high byte, module type in
 * the low byte (42 = SfAR-1M-4DI), as iSMA decodes it. The simulated module runs firmware 4.0.
 */
export const SFAR_4DI_TYPE = 42;
export const SFAR_4DI_VERSION_TYPE = (40 << 8) | SFAR_4DI_TYPE;

export const GAS_DM3_PER_PULSE = 10;

const UINT32_LOW_FIRST = { type: 'uint32', wordOrder: 'little', sentinels: 'none' } as const;

export class GasMeterDevice implements SimDevice {
  readonly kind = 'gas-meter';
  readonly base = null;
  readonly bank = new RegisterBank();
  readonly faults = new FaultSwitches();
  readonly unit: number;
  readonly serial: string;
  readonly source: GasSource;
  private readonly clock: SimClock;
  /** Gas volume behind inputs 1 and 2, dm³ (whole pulses shown). */
  private readonly channels: [TotalCounter, TotalCounter];

  constructor(ctx: DeviceContext, source?: GasSource) {
    this.clock = ctx.clock;
    this.unit = ctx.unit;
    this.serial = `SFAR-${String(ctx.home.seed).padStart(4, '0')}-${String(ctx.unit).padStart(3, '0')}`;
    this.source = source ?? new GasUse({ seed: ctx.home.seed, startMs: ctx.home.now, ...ctx.gas });
    const t = this.source.totals;
    // Input 1 starts at a plausible meter index (whole pulses); input 2 at zero.
    const startPulses = Math.floor(hash01(ctx.home.seed + 45, ctx.unit) * 400_000);
    this.channels = [
      new TotalCounter(() => t.takenDm3, startPulses * GAS_DM3_PER_PULSE),
      new TotalCounter(() => t.fedInDm3, 0),
    ];
    this.bank.set('input', SFAR_4DI_REGISTERS.versionType, [SFAR_4DI_VERSION_TYPE]);
    this.bank.set('input', SFAR_4DI_REGISTERS.moduleAddress, [ctx.unit]);
    this.bank.set('holding', SFAR_4DI_REGISTERS.baudRate, [3, 0, 0, 0, 0, 0, 0]); // 2..8: link settings
    this.bank.set('holding', 32, new Uint16Array(6)); // packet statistics
    this.bank.set('input', SFAR_4DI_REGISTERS.inputs, [0]);
    this.bank.set('holding', SFAR_4DI_REGISTERS.counter1, new Uint16Array(16));
    // Writing a counter presets it: the channel counts on from the written number of pulses.
    this.bank.allowWrites(SFAR_4DI_REGISTERS.counter1, 4, () => {
      this.channels.forEach((c, i) => {
        const regs = this.bank.read('holding', SFAR_4DI_REGISTERS.counter1 + 2 * i, 2);
        c.set(Number(decodeRaw(UINT32_LOW_FIRST, regs)) * GAS_DM3_PER_PULSE);
      });
    });
    this.update();
  }

  /** Pulses counted on input 1 (gas taken) and 2 (gas fed in). */
  pulses(): [number, number] {
    return [
      Math.floor(this.channels[0].value / GAS_DM3_PER_PULSE),
      Math.floor(this.channels[1].value / GAS_DM3_PER_PULSE),
    ];
  }

  refresh(): void {
    this.source.advanceTo(this.clock.now());
    this.update();
  }

  private update(): void {
    const [p1, p2] = this.pulses();
    this.bank.set('holding', SFAR_4DI_REGISTERS.counter1, encodeRaw(UINT32_LOW_FIRST, p1));
    this.bank.set('holding', SFAR_4DI_REGISTERS.counter2, encodeRaw(UINT32_LOW_FIRST, p2));
    this.bank.set('holding', SFAR_4DI_REGISTERS.captured1, encodeRaw(UINT32_LOW_FIRST, p1));
    this.bank.set('holding', SFAR_4DI_REGISTERS.captured1 + 2, encodeRaw(UINT32_LOW_FIRST, p2));
    // A reed contact closes for part of each pulse: here, the second half of every 10 dm³.
    const closed = (c: TotalCounter) => (c.value % GAS_DM3_PER_PULSE >= GAS_DM3_PER_PULSE / 2 ? 1 : 0);
    this.bank.set('input', SFAR_4DI_REGISTERS.inputs, [
      closed(this.channels[0]) | (closed(this.channels[1]) << 1),
    ]);
  }

  resetCounters(): void {
    for (const c of this.channels) c.set(0);
    this.update();
  }
}

export function createDevice(kind: DeviceKind, ctx: DeviceContext): SimDevice {
  switch (kind) {
    case 'sunspec-inverter':
      return new SunSpecInverter(ctx);
    case 'sunspec-meter':
      return new SunSpecMeter(ctx);
    case 'sunspec-battery':
      return new SunSpecBattery(ctx);
    case 'sdm630':
      return new Sdm630(ctx);
    case 'heat-meter':
      return new HeatMeterDevice(ctx);
    case 'gas-meter':
      return new GasMeterDevice(ctx);
  }
}
