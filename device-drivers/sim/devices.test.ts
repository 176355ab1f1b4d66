// The simulated devices' registers over a simulated day, the clock driven by hand: the counters a
// gateway would sign only grow, equal the home's integral of power from their starting reading,
// and the meters agree with each other; a counter reset shows as what it is.
import { describe, expect, it } from 'vitest';
import { decodeRaw } from '../codec.js';
import { ManualClock } from './clock.js';
import { createDevice, SDM630_REGISTERS, type SimDevice } from './devices.js';
import { Home } from './physics/home.js';

const MIDSUMMER = Date.UTC(2025, 5, 21);

function setup(batteryWh = 10_000) {
  const clock = new ManualClock(MIDSUMMER);
  const home = new Home({ seed: 4, startMs: MIDSUMMER, stepMs: 10_000, batteryWh });
  const make = (unit: number, kind: Parameters<typeof createDevice>[0]) =>
    createDevice(kind, { home, clock, unit });
  return {
    clock,
    home,
    inverter: make(1, 'sunspec-inverter'),
    meter: make(2, 'sunspec-meter'),
    battery: make(3, 'sunspec-battery'),
    sdm: make(4, 'sdm630'),
  };
}

function sunspec(d: SimDevice, name: string): number | string | null {
  d.refresh?.();
  if (!('image' in d)) throw new Error('not a SunSpec device');
  return (d as SimDevice & { image: { get(n: string): number | string | null } }).image.get(name);
}

function sdmKwh(d: SimDevice, address: number): number {
  d.refresh?.();
  return decodeRaw({ type: 'float32' }, d.bank.read('input', address, 2)) as number;
}

describe('simulated devices', () => {
  it('energy counters grow only and equal start + the home’s integral, at every step of a day', () => {
    const { clock, home, inverter, meter, sdm } = setup();
    const wh0 = sunspec(inverter, '103.WH') as number;
    const imp0 = sunspec(meter, '203.TotWhImp') as number;
    const exp0 = sunspec(meter, '203.TotWhExp') as number;
    const e0 = { ...home.energy };
    let prev = { wh: wh0, imp: imp0, exp: exp0, sdmImp: sdmKwh(sdm, SDM630_REGISTERS.importKwh) };
    let shrank = 0;
    let off = 0;
    for (let i = 0; i < 24 * 12; i++) {
      clock.advance(5 * 60_000);
      const now = {
        wh: sunspec(inverter, '103.WH') as number,
        imp: sunspec(meter, '203.TotWhImp') as number,
        exp: sunspec(meter, '203.TotWhExp') as number,
        sdmImp: sdmKwh(sdm, SDM630_REGISTERS.importKwh),
      };
      if (now.wh < prev.wh || now.imp < prev.imp || now.exp < prev.exp || now.sdmImp < prev.sdmImp) shrank++;
      const e = home.energy;
      // A counter shows whole Wh, floored: it may lag the exact integral by less than 1 Wh.
      const lag = (shown: number, start: number, exact: number) => start + exact - shown;
      for (const d of [
        lag(now.wh, wh0, e.pvWh - e0.pvWh),
        lag(now.imp, imp0, e.gridImportWh - e0.gridImportWh),
        lag(now.exp, exp0, e.gridExportWh - e0.gridExportWh),
      ]) {
        if (d < -1 || d > 1.5) off++;
      }
      prev = now;
    }
    expect(shrank).toBe(0);
    expect(off).toBe(0);
    expect(prev.wh - wh0).toBeGreaterThan(10_000); // a sunny midsummer day on 6 kWp
  });

  it('the meters see load − PV − battery, and agree with each other', () => {
    const { clock, home, meter, sdm, inverter, battery } = setup();
    for (const h of [3, 9, 13, 20]) {
      clock.set(MIDSUMMER + h * 3_600_000);
      const w = sunspec(meter, '203.W');
      sdm.refresh?.();
      const sdmW = decodeRaw({ type: 'float32' }, sdm.bank.read('input', SDM630_REGISTERS.totalPower, 2));
      const p = home.power;
      expect(w).toBe(p.loadW - p.pvW - p.batteryW);
      expect(sdmW).toBe(w);
      expect(sunspec(inverter, '103.W')).toBe(p.pvW);
      expect(sunspec(battery, '802.W')).toBe(p.batteryW);
      expect(sunspec(battery, '802.SoC')).toBeCloseTo(home.soc * 100, 0);
    }
  });

  it('a counter reset brings the counters back to zero (SunSpec: "no value") and they count on', () => {
    const { clock, meter, sdm } = setup(0); // no battery: the night's load comes from the grid
    clock.set(MIDSUMMER + 2 * 3_600_000);
    expect(sunspec(meter, '203.TotWhImp')).toBeGreaterThan(100_000);
    meter.resetCounters();
    sdm.resetCounters();
    expect(sunspec(meter, '203.TotWhImp')).toBeNull(); // acc32 0 is SunSpec's "not accumulated"
    expect(sdmKwh(sdm, SDM630_REGISTERS.importKwh)).toBe(0);
    clock.advance(3_600_000);
    expect(sunspec(meter, '203.TotWhImp')).toBeGreaterThan(50);
    expect(sdmKwh(sdm, SDM630_REGISTERS.importKwh)).toBeGreaterThan(0.05);
  });

  it('SunSpec images carry the SunS marker, the model chain and the end marker', () => {
    const { battery } = setup();
    battery.refresh?.();
    const regs = battery.bank.read('holding', 40000, 4);
    expect([...regs]).toEqual([0x5375, 0x6e53, 1, 66]);
    expect(battery.base).toBe(40000);
    expect(() => battery.bank.read('holding', 39999, 1)).toThrow(/not defined/);
  });
});
