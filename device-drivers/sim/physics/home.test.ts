// The simulated home's physics, driven step by step with no real time passing: energy counters
// only grow and equal the integral of the powers reported, the battery's state of charge
// integrates its power within its limits, the grid balances everything, and a seed fixes the day.
import { describe, expect, it } from 'vitest';
import { Home } from './home.js';

const DAY = 86_400_000;
const MIDSUMMER = Date.UTC(2025, 5, 21);

function runDay(home: Home, stepMs: number, until = home.now + DAY) {
  const samples: Array<{
    t: number;
    pvW: number;
    loadW: number;
    batteryW: number;
    gridW: number;
    soc: number;
  }> = [];
  while (home.now < until) {
    samples.push({ t: home.now, ...home.power, soc: home.soc });
    home.advanceTo(Math.min(until, home.now + stepMs));
  }
  return samples;
}

describe('Home physics', () => {
  it('counters grow only and equal the integral of the reported power over a day', () => {
    // 10-second steps keep the test quick; the property holds for any step.
    const step = 10_000;
    const home = new Home({ seed: 7, startMs: MIDSUMMER, stepMs: step });
    const before = { ...home.energy };
    let shrank = 0;
    let pv = 0;
    let imp = 0;
    let exp = 0;
    let load = 0;
    let last = { ...home.energy };
    while (home.now < MIDSUMMER + DAY) {
      const p = home.power;
      const h = step / 3_600_000;
      pv += p.pvW * h;
      load += p.loadW * h;
      if (p.gridW >= 0) imp += p.gridW * h;
      else exp -= p.gridW * h;
      home.advanceTo(home.now + step);
      const e = home.energy;
      for (const k of Object.keys(e) as Array<keyof typeof e>) if (e[k] < last[k]) shrank++;
      last = { ...e };
    }
    expect(shrank).toBe(0);
    const e = home.energy;
    expect(e.pvWh - before.pvWh).toBeCloseTo(pv, 6);
    expect(e.loadWh - before.loadWh).toBeCloseTo(load, 6);
    expect(e.gridImportWh - before.gridImportWh).toBeCloseTo(imp, 6);
    expect(e.gridExportWh - before.gridExportWh).toBeCloseTo(exp, 6);
    // A 6 kWp roof at midsummer makes tens of kWh; the household uses some kWh.
    expect(pv).toBeGreaterThan(10_000);
    expect(load).toBeGreaterThan(3_000);
  });

  it('balances at every step: grid = load − pv − battery', () => {
    const home = new Home({ seed: 3, startMs: MIDSUMMER });
    for (const s of runDay(home, 60_000)) expect(s.gridW).toBe(s.loadW - s.pvW - s.batteryW);
  });

  it('PV follows daylight: nothing at night, most around noon', () => {
    const home = new Home({ seed: 1, startMs: MIDSUMMER });
    const samples = runDay(home, 60_000);
    const at = (h: number) => samples.filter((s) => Math.floor((s.t - MIDSUMMER) / 3_600_000) === h);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(at(1).every((s) => s.pvW === 0)).toBe(true);
    expect(at(23).every((s) => s.pvW === 0)).toBe(true);
    expect(mean(at(12).map((s) => s.pvW))).toBeGreaterThan(mean(at(7).map((s) => s.pvW)));
    expect(Math.max(...samples.map((s) => s.pvW))).toBeLessThanOrEqual(6000);
  });

  it('the state of charge integrates the battery power (with its efficiency) and stays within limits', () => {
    const step = 10_000;
    const home = new Home({ seed: 5, startMs: MIDSUMMER, socStart: 0.2, batteryWh: 5000, stepMs: step });
    let expected = home.soc;
    let worst = 0;
    let outside = 0;
    let sawFull = false;
    let sawCharge = false;
    let sawDischarge = false;
    while (home.now < MIDSUMMER + 2 * DAY) {
      const w = home.power.batteryW;
      const wh = (w * step) / 3_600_000;
      expected += w >= 0 ? -wh / home.efficiency / home.batteryWh : (-wh * home.efficiency) / home.batteryWh;
      home.advanceTo(home.now + step);
      worst = Math.max(worst, Math.abs(home.soc - expected));
      if (home.soc < home.socMin - 1e-12 || home.soc > home.socMax + 1e-12) outside++;
      if (home.soc > home.socMax - 1e-6) sawFull = true;
      if (w < 0) sawCharge = true;
      if (w > 0) sawDischarge = true;
    }
    expect(worst).toBeLessThan(1e-9);
    expect(outside).toBe(0);
    expect(sawCharge && sawDischarge && sawFull).toBe(true);
  });

  it('is deterministic for a seed and different for another, however time is stepped', () => {
    const a = new Home({ seed: 11, startMs: MIDSUMMER });
    const b = new Home({ seed: 11, startMs: MIDSUMMER });
    const c = new Home({ seed: 12, startMs: MIDSUMMER });
    const noon = MIDSUMMER + 12 * 3_600_000;
    expect(a.pvAvailableW(noon)).toBe(b.pvAvailableW(noon));
    expect(a.loadAt(noon)).toBe(b.loadAt(noon));
    const pvA = runDay(a, 60_000).map((s) => s.pvW);
    expect(runDay(b, 60_000).map((s) => s.pvW)).toEqual(pvA);
    expect(runDay(c, 60_000).map((s) => s.pvW)).not.toEqual(pvA);
  });

  it('clouds vary the PV output from one hour to the next on some days', () => {
    // Over a month, at least one noon is clearly dimmer than the clearest one.
    const home = new Home({ seed: 2 });
    const noons = Array.from({ length: 30 }, (_, d) =>
      home.pvAvailableW(MIDSUMMER + d * DAY + 12 * 3_600_000),
    );
    expect(Math.min(...noons)).toBeLessThan(0.7 * Math.max(...noons));
  });

  it('a setpoint drives the battery within its power limits and state-of-charge window, and counts', () => {
    const home = new Home({ seed: 3, startMs: MIDSUMMER, batteryWh: 10_000, socStart: 0.5, stepMs: 1000 });
    home.setBatterySetpoint(3000);
    expect(home.power.batteryW).toBe(3000);
    expect(home.power.gridW).toBe(home.power.loadW - home.power.pvW - 3000);
    const before = home.energy.batteryDischargeWh;
    home.advanceTo(home.now + 3_600_000);
    // One hour at 3000 W: 3000 Wh out, and the state of charge fell by 3000 / 0.95 / 10 000.
    expect(home.energy.batteryDischargeWh - before).toBeCloseTo(3000, 6);
    expect(home.soc).toBeCloseTo(0.5 - 3000 / 0.95 / 10_000, 6);
    // Above the 5000 W limit: clipped to it.
    home.setBatterySetpoint(-9000);
    expect(home.power.batteryW).toBe(-5000);
    // Charging until full: the battery stops at socMax and stays there.
    home.advanceTo(home.now + 3 * 3_600_000);
    expect(home.soc).toBeCloseTo(1, 6);
    expect(Math.abs(home.power.batteryW)).toBeLessThanOrEqual(1); // what is left: under 1 W·step
    expect(home.soc).toBeLessThanOrEqual(1);
    // Discharging until empty: it stops at socMin.
    home.setBatterySetpoint(5000);
    home.advanceTo(home.now + 3 * 3_600_000);
    expect(home.soc).toBeCloseTo(0.05, 6);
    expect(Math.abs(home.power.batteryW)).toBeLessThanOrEqual(1);
    expect(home.soc).toBeGreaterThanOrEqual(0.05);
    // Released: back to self-consumption (never discharges into the grid by itself).
    home.setBatterySetpoint(null);
    expect(home.batterySetpointW).toBeNull();
    expect(home.power.gridW).toBeGreaterThanOrEqual(0 - Math.max(0, home.power.pvW - home.power.loadW));
  });
});
