// The shipped profiles' identify rules against every simulated device, read from the devices' own
// registers (an undefined register answers exception 2, as over the wire): each rule of the heat
// meter and gas module profiles holds on its own device through a winter day and a summer day
// (the heat meter also while the home feeds heat in) and on no other device, SunSpec ones at any
// base included; identifyProfiles names the heat meter and the gas module with their profile only.
import { describe, expect, it } from 'vitest';
import { identifyProfiles, loadProfiles, type Profile } from '../profiles/loader.js';
import { ModbusExceptionError, type RegisterSource } from '../register-source.js';
import { ManualClock } from './clock.js';
import { createDevice, type DeviceKind, type SimDevice } from './devices.js';
import { Home } from './physics/home.js';
import { RegisterBankError } from './register-bank.js';

const profiles = loadProfiles();
const WINTER = Date.UTC(2025, 0, 15);
const SUMMER = Date.UTC(2025, 5, 21);
const HOUR = 3_600_000;

const SUNSPEC_KINDS = ['sunspec-inverter', 'sunspec-meter', 'sunspec-battery'] as const;
const OWN: Readonly<Record<string, string>> = {
  'itron-cf-echo-ii': 'heat-meter',
  'isma-4di-gas': 'gas-meter',
};

/** What a Modbus server in front of the device would answer. */
function registersOf(d: SimDevice): RegisterSource {
  return {
    async readRegisters(_unit, fn, address, count) {
      d.refresh?.();
      try {
        return d.bank.read(fn === 3 ? 'holding' : 'input', address, count);
      } catch (e) {
        if (e instanceof RegisterBankError) throw new ModbusExceptionError(e.exceptionCode);
        throw e;
      }
    },
  };
}

/** Every kind of simulated device (SunSpec ones at each base), by label, in one home. */
function homeOfEveryDevice(startMs: number, heatFeedInW = 0) {
  const clock = new ManualClock(startMs);
  const home = new Home({ seed: 3, startMs });
  const devices = new Map<string, SimDevice>();
  let unit = 1;
  const add = (label: string, kind: DeviceKind, base?: number) =>
    devices.set(
      label,
      createDevice(kind, {
        home,
        clock,
        unit: unit++,
        ...(base !== undefined ? { base } : {}),
        heat: { stepMs: 60_000, feedInPeakW: heatFeedInW },
        gas: { stepMs: 60_000 },
      }),
    );
  for (const kind of SUNSPEC_KINDS) for (const base of [40000, 0, 50000]) add(`${kind}@${base}`, kind, base);
  add('sdm630', 'sdm630');
  add('heat-meter', 'heat-meter');
  add('gas-meter', 'gas-meter');
  return { clock, devices };
}

function shipped(name: string): Profile {
  const p = profiles.find((q) => q.name === name);
  if (p === undefined) throw new Error(`no profile ${name}`);
  return p;
}

/** Labels of the devices on which the profile's rule `i` alone holds. */
async function rulesHoldOn(devices: Map<string, SimDevice>, name: string, i: number): Promise<string[]> {
  const p = shipped(name);
  const one: Profile = { ...p, identify: [p.identify[i]!] };
  const on: string[] = [];
  for (const [label, d] of devices) {
    if ((await identifyProfiles(registersOf(d), 1, [one])).length > 0) on.push(label);
  }
  return on;
}

describe('identify rules of the heat meter and gas module profiles, on the simulated devices', () => {
  it('each profile has rules, and each rule holds on its own device only, all day, winter and summer', async () => {
    for (const name of Object.keys(OWN)) expect(shipped(name).identify.length).toBeGreaterThanOrEqual(2);
    for (const [start, feedIn] of [
      [WINTER, 0],
      [SUMMER, 8000], // midday heat fed in: flow colder than return
    ] as const) {
      const { clock, devices } = homeOfEveryDevice(start, feedIn);
      for (let h = 0; h < 24; h += 3) {
        for (const [name, own] of Object.entries(OWN)) {
          for (let i = 0; i < shipped(name).identify.length; i++) {
            expect([
              new Date(clock.now()).toISOString(),
              name,
              i,
              await rulesHoldOn(devices, name, i),
            ]).toEqual([new Date(clock.now()).toISOString(), name, i, [own]]);
          }
        }
        clock.advance(3 * HOUR);
      }
    }
  });

  it('identifyProfiles names the heat meter and the gas module with their profile alone, and no other device with theirs', async () => {
    const { devices } = homeOfEveryDevice(WINTER);
    const found: Record<string, string[]> = {};
    for (const [label, d] of devices) {
      found[label] = (await identifyProfiles(registersOf(d), 1, profiles)).map((p) => p.name);
    }
    expect(found['heat-meter']).toEqual(['itron-cf-echo-ii']);
    expect(found['gas-meter']).toEqual(['isma-4di-gas']);
    expect(found['sdm630']?.[0]).toBe('eastron-sdm630');
    for (const [label, names] of Object.entries(found)) {
      if (label === 'heat-meter' || label === 'gas-meter') continue;
      expect([label, names.filter((n) => n in OWN)]).toEqual([label, []]);
    }
  });
});
