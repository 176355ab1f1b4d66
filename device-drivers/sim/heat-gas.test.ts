// The simulated heat meter and gas pulse counter, the clock driven by hand: their registers read
// through the shipped profiles give counters that only grow and equal the physics' integral from
// their starting reading; the heat meter's power, flow and temperatures agree (P = flow × c × ΔT);
// a home that feeds heat in shows it on the cooling index; the gas counter can be preset.
import { describe, expect, it } from 'vitest';
import { readDevicePoints } from '../device-reader.js';
import { findProfile as findIn, loadProfiles } from '../profiles/loader.js';
import type { RegisterSource } from '../register-source.js';
import { ManualClock } from './clock.js';
import {
  createDevice,
  GAS_DM3_PER_PULSE,
  type GasMeterDevice,
  type HeatMeterDevice,
  type SimDevice,
} from './devices.js';
import { outdoorTempC, WATER_WH_PER_L_K } from './physics/heat.js';
import { Home } from './physics/home.js';

const profiles = loadProfiles();
const findProfile = (name: string) => findIn(name, profiles);
const WINTER = Date.UTC(2025, 0, 15);
const SPRING = Date.UTC(2025, 3, 20);

/** The device's own registers as a RegisterSource (what a Modbus server would answer). */
function registersOf(d: SimDevice): RegisterSource {
  return {
    async readRegisters(_unit, fn, address, count) {
      d.refresh?.();
      return d.bank.read(fn === 3 ? 'holding' : 'input', address, count);
    },
  };
}

async function counters(d: SimDevice, profile: string, names: string[]) {
  const r = await readDevicePoints(registersOf(d), 1, findProfile(profile));
  expect(r.errors).toEqual([]);
  return Object.fromEntries(names.map((n) => [n, r.points[n]?.integer ?? Number.NaN]));
}

describe('simulated heat meter (Itron CF Echo II)', () => {
  it('counts heat taken on a winter day: counters grow, equal the integral, and agree with flow × c × ΔT', async () => {
    const clock = new ManualClock(WINTER);
    const home = new Home({ seed: 7, startMs: WINTER });
    const meter = createDevice('heat-meter', {
      home,
      clock,
      unit: 5,
      heat: { stepMs: 10_000 },
    }) as HeatMeterDevice;
    expect(meter.kind).toBe('heat-meter');
    const names = ['heat_energy', 'cooling_energy', 'volume'];
    const first = await counters(meter, 'itron-cf-echo-ii', names);
    const t0 = { ...meter.source.totals };
    let prev = first;
    let shrank = 0;
    for (let i = 0; i < 24 * 4; i++) {
      clock.advance(15 * 60_000);
      const now = await counters(meter, 'itron-cf-echo-ii', names);
      if (names.some((n) => (now[n] ?? 0) < (prev[n] ?? 0))) shrank++;
      prev = now;
      const s = meter.source.state;
      if (s.powerW > 0) {
        // The meter's own equation holds for what it shows.
        expect(s.flowLph * WATER_WH_PER_L_K * (s.flowC - s.returnC)).toBeCloseTo(s.powerW, 6);
        expect(s.flowC).toBeGreaterThan(s.returnC);
      }
    }
    expect(shrank).toBe(0);
    const t = meter.source.totals;
    // Whole Wh (kWh as float32 with three decimals), floored: within 1 Wh of the exact integral.
    const takenWh = (prev['heat_energy'] ?? 0) - (first['heat_energy'] ?? 0);
    expect(Math.abs(takenWh - (t.takenWh - t0.takenWh))).toBeLessThanOrEqual(1);
    // A January day with a mean around 1 °C: tens of kWh of heat, nothing fed in.
    expect(takenWh).toBeGreaterThan(30_000);
    expect(takenWh).toBeLessThan(150_000);
    expect(prev['cooling_energy']).toBe(first['cooling_energy']);
    expect((prev['volume'] ?? 0) - (first['volume'] ?? 0)).toBeGreaterThan(500);
    expect(outdoorTempC(7, WINTER + 3 * 3_600_000)).toBeLessThan(outdoorTempC(7, SPRING + 15 * 3_600_000));
  });

  it('a home that feeds heat in at midday shows it on the cooling index, return hotter than flow', async () => {
    const clock = new ManualClock(SPRING + 8 * 3_600_000);
    const home = new Home({ seed: 8, startMs: clock.now() });
    const meter = createDevice('heat-meter', {
      home,
      clock,
      unit: 5,
      heat: { feedInPeakW: 8000 },
    }) as HeatMeterDevice;
    const names = ['heat_energy', 'cooling_energy'];
    const before = await counters(meter, 'cf-echo-ii', names);
    let sawFeedIn = false;
    for (let i = 0; i < 8 * 4; i++) {
      clock.advance(15 * 60_000);
      meter.refresh();
      const s = meter.source.state;
      if (s.powerW < 0) {
        sawFeedIn = true;
        expect(s.returnC).toBeGreaterThan(s.flowC);
      }
    }
    const after = await counters(meter, 'cf-echo-ii', names);
    expect(sawFeedIn).toBe(true);
    const fedInWh = (after['cooling_energy'] ?? 0) - (before['cooling_energy'] ?? 0);
    expect(fedInWh).toBeGreaterThan(5_000);
    expect(Math.abs(fedInWh - meter.source.totals.fedInWh)).toBeLessThanOrEqual(1);
    // The card sends the power as its absolute value.
    const r = await readDevicePoints(registersOf(meter), 1, findProfile('cf-echo-ii'));
    expect(r.points['heat_power']?.value).toBeGreaterThanOrEqual(0);
  });

  it('a counter reset shows as a counter that went back to zero', async () => {
    const clock = new ManualClock(WINTER);
    const meter = createDevice('heat-meter', { home: new Home({ startMs: WINTER }), clock, unit: 1 });
    clock.advance(3_600_000);
    const before = await counters(meter, 'cf-echo-ii', ['heat_energy']);
    meter.resetCounters();
    const after = await counters(meter, 'cf-echo-ii', ['heat_energy']);
    expect(before['heat_energy']).toBeGreaterThan(100_000);
    expect(after['heat_energy']).toBe(0);
  });
});

describe('simulated gas pulse counter (iSMA SFAR-1M-4DI)', () => {
  it('counts whole pulses of 10 dm³ of the boiler and cooker; input 2 counts a producer’s feed-in', async () => {
    const clock = new ManualClock(WINTER);
    const home = new Home({ seed: 9, startMs: WINTER });
    const gas = createDevice('gas-meter', {
      home,
      clock,
      unit: 6,
      gas: { feedInDm3PerHour: 2_000 },
    }) as GasMeterDevice;
    const names = ['gas_volume_taken', 'gas_volume_fed_in'];
    const first = await counters(gas, 'isma-4di-gas', names);
    const t0 = { ...gas.source.totals };
    clock.advance(24 * 3_600_000);
    const last = await counters(gas, 'isma-4di-gas', names);
    const t = gas.source.totals;
    const takenDm3 = (last['gas_volume_taken'] ?? 0) - (first['gas_volume_taken'] ?? 0);
    expect(takenDm3 % GAS_DM3_PER_PULSE).toBe(0);
    // Whole pulses: within one pulse of the exact volume.
    expect(Math.abs(takenDm3 - (t.takenDm3 - t0.takenDm3))).toBeLessThan(GAS_DM3_PER_PULSE);
    // A winter day of gas heating: several m³.
    expect(takenDm3).toBeGreaterThan(5_000);
    const fedInDm3 = (last['gas_volume_fed_in'] ?? 0) - (first['gas_volume_fed_in'] ?? 0);
    // 2 m³ an hour, one hour in eight paused on average.
    expect(fedInDm3).toBeGreaterThan(30_000);
    expect(fedInDm3).toBeLessThanOrEqual(48_000);
  });

  it('an installer presets counter 1 to the meter index by writing it; it counts on from there', async () => {
    const clock = new ManualClock(WINTER);
    const gas = createDevice('gas-meter', { home: new Home({ seed: 3, startMs: WINTER }), clock, unit: 2 });
    // 123 456 pulses = 0x0001E240, low register first.
    gas.bank.write(52, Uint16Array.of(0xe240, 0x0001));
    expect((await counters(gas, 'gas-pulse', ['gas_volume_taken']))['gas_volume_taken']).toBe(1_234_560);
    clock.advance(6 * 3_600_000);
    const later = (await counters(gas, 'gas-pulse', ['gas_volume_taken']))['gas_volume_taken'] ?? 0;
    expect(later).toBeGreaterThan(1_234_560);
    gas.resetCounters();
    expect((await counters(gas, 'gas-pulse', ['gas_volume_taken']))['gas_volume_taken']).toBe(0);
  });
});
