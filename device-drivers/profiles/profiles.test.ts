// Device profiles: the shipped files load and lint clean, bad files give errors that name the file
// and key, and a device is read and identified through them. The RegisterSource here is an
// in-memory test double of the seam (the real transports are tested against the simulators).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { encodePoint } from '../codec.js';
import { planReads, readDevicePoints } from '../device-reader.js';
import type { PointDef } from '../points.js';
import { ModbusExceptionError, type RegisterSource } from '../register-source.js';
import { lintProfile, lintProfileText } from './lint.js';
import {
  findProfile,
  identifyProfiles,
  loadProfiles,
  type Profile,
  ProfileError,
  parseProfile,
} from './loader.js';

const profiles = loadProfiles();

/** Registers by function code; unset registers raise "illegal data address" like a real device. */
class SparseDevice implements RegisterSource {
  readonly regs = { 3: new Map<number, number>(), 4: new Map<number, number>() };
  write(fn: 3 | 4, address: number, words: ArrayLike<number>): void {
    for (let i = 0; i < words.length; i++) this.regs[fn].set(address + i, words[i] as number);
  }
  set(p: PointDef, value: number | string): void {
    // A profile point's scale is part of the point; encodePoint applies its inverse.
    this.write(p.fn, p.address, encodePoint(p, value));
  }
  async readRegisters(_unit: number, fn: 3 | 4, address: number, count: number): Promise<Uint16Array> {
    const out = new Uint16Array(count);
    for (let i = 0; i < count; i++) {
      const v = this.regs[fn].get(address + i);
      if (v === undefined) throw new ModbusExceptionError(2);
      out[i] = v;
    }
    return out;
  }
}

function point(profile: Profile, name: string): PointDef {
  const p = profile.points.find((q) => q.name === name);
  if (p === undefined) throw new Error(`no ${name}`);
  return p;
}

describe('shipped profiles', () => {
  it('include the Eastron SDM630, SDM120, SDM72D-M, a hybrid inverter with battery, a heat meter and a gas pulse counter', () => {
    expect(profiles.map((p) => p.name)).toEqual([
      'eastron-sdm120',
      'eastron-sdm630',
      'eastron-sdm72d-m',
      'huawei-sun2000',
      'isma-4di-gas',
      'itron-cf-echo-ii',
    ]);
    expect(profiles.map((p) => p.energy)).toEqual([
      'electricity',
      'electricity',
      'electricity',
      'electricity',
      'gas',
      'heat',
    ]);
    expect(findProfile('sdm630').name).toBe('eastron-sdm630');
    expect(() => findProfile('sdm999')).toThrow(
      /no device profile "sdm999"; known: eastron-sdm120 \(sdm120\)/,
    );
  });

  for (const p of profiles) {
    it(`${p.name} lints clean and names its source document and counters`, () => {
      expect(lintProfile(p)).toEqual([]);
      expect(p.source.length).toBeGreaterThan(10);
      if (p.energy === 'gas') {
        // Gas by volume: the agent turns dm³ into Wh with the installer's calorific value.
        expect(point(p, p.roles.importVolume!)).toMatchObject({ counter: true, units: 'dm3' });
        expect(point(p, p.roles.exportVolume!)).toMatchObject({ counter: true, units: 'dm3' });
      } else {
        expect(point(p, p.roles.importEnergy!)).toMatchObject({ counter: true, units: 'Wh' });
        expect(point(p, p.roles.exportEnergy!)).toMatchObject({ counter: true, units: 'Wh' });
      }
    });
  }

  it('names and aliases are unique across profiles', () => {
    const all = profiles.flatMap((p) => [p.name, ...p.aliases]);
    expect(new Set(all).size).toBe(all.length);
  });

  it('turns kWh into Wh by power-of-ten exponent and keeps signs as factors', () => {
    const sdm = findProfile('sdm630');
    expect(point(sdm, 'import_energy')).toMatchObject({
      fn: 4,
      address: 0x48,
      type: 'float32',
      size: 2,
      units: 'Wh',
      scaleExp: 3,
      counter: true,
      sentinels: 'none',
    });
    const hw = findProfile('huawei-sun2000');
    expect(point(hw, 'grid_imported_energy')).toMatchObject({
      fn: 3,
      address: 37121,
      type: 'int32',
      scaleExp: 1,
    });
    expect(point(hw, 'rated_power')).toMatchObject({ units: 'W' });
    expect(point(hw, 'rated_power').scaleExp).toBeUndefined();
    expect(point(hw, 'grid_power')).toMatchObject({ units: 'W', scaleFactor: -1 });
    expect(point(hw, 'battery_soc')).toMatchObject({ units: '%', scaleExp: -1 });
  });

  it('are found from the compiled CLI in dist/ too (tsc does not copy YAML)', () => {
    const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
    const compiled = path.join(root, 'dist/device-drivers/profiles/loader.js');
    if (!existsSync(compiled)) {
      // npm test builds first; a bare `vitest run` before any build cannot check this.
      expect
        .soft(existsSync(compiled), 'build first (npm run build) to check profiles from dist/')
        .toBe(false);
      return;
    }
    const out = execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const m = await import(${JSON.stringify(compiled)}); console.log(m.loadProfiles().map((p) => p.name).join(','))`,
      ],
      { encoding: 'utf8' },
    );
    expect(out.trim()).toBe(profiles.map((p) => p.name).join(','));
  });
});

describe('reading through a profile', () => {
  it('reads an SDM630 in few requests and gives exact Wh for its float kWh counters', async () => {
    const sdm = findProfile('eastron-sdm630');
    const dev = new SparseDevice();
    // Every register the meter has in the blocks the profile reads, zero unless set.
    for (const [a, b] of [
      [0x0000, 0x0050],
      [0x00c8, 0x00e2],
      [0x0156, 0x015a],
    ] as const) {
      dev.write(4, a, new Uint16Array(b - a));
    }
    dev.set(point(sdm, 'l1_voltage'), 231.5);
    dev.set(point(sdm, 'total_power'), -2150.25);
    dev.set(point(sdm, 'import_energy'), 1_234_567); // Wh; the register holds 1234.567 kWh
    dev.set(point(sdm, 'export_energy'), 98_765_432); // 98765.432 kWh, beyond float32's exact range
    const r = await readDevicePoints(dev, 1, sdm);
    expect(r.failedRequests).toBe(0);
    expect(r.points['l1_voltage']).toMatchObject({ value: 231.5, unit: 'V' });
    expect(r.points['total_power']).toMatchObject({ value: -2150.25, unit: 'W' });
    expect(r.points['import_energy']).toMatchObject({ unit: 'Wh', integer: 1_234_567 });
    // float32 holds 98765.43 kWh as 98765.4296875: the nearest Wh is what the meter can say.
    expect(r.points['export_energy']?.integer).toBe(98_765_430);
    expect(r.requests).toBe(planReads(sdm.points, sdm.planner).requests.length);
    expect(r.requests).toBe(4);
  });

  it('reads a Huawei inverter: negated grid power, integer-exact counters, never a gap', async () => {
    const hw = findProfile('huawei-sun2000');
    const dev = new SparseDevice();
    for (const p of hw.points) dev.write(p.fn, p.address, new Uint16Array(p.size));
    dev.set(point(hw, 'model_name'), 'SUN2000-10KTL-M1');
    dev.write(3, 37113, encodePoint({ type: 'int32' }, 1800)); // device: +1800 W = exporting
    dev.write(3, 37121, encodePoint({ type: 'int32' }, 123_456)); // 1234.56 kWh imported
    dev.write(3, 37004, encodePoint({ type: 'uint16' }, 875)); // 87.5 %
    const r = await readDevicePoints(dev, 1, hw);
    expect(r.errors).toEqual([]);
    expect(r.points['grid_power']).toMatchObject({ value: -1800, unit: 'W' });
    expect(r.points['grid_imported_energy']).toMatchObject({
      value: 1_234_560,
      integer: 1_234_560,
      unit: 'Wh',
    });
    expect(r.points['battery_soc']).toMatchObject({ value: 87.5, unit: '%' });
    expect(r.points['model_name']?.value).toBe('SUN2000-10KTL-M1');
  });
});

describe('heat and gas meters through their profiles', () => {
  it('reads an Itron CF Echo II heat meter: kWh of heat as exact Wh, power in 0.1 kW steps, temperatures', async () => {
    const cf = findProfile('cf-echo-ii');
    expect(cf.energy).toBe('heat');
    const dev = new SparseDevice();
    dev.write(3, 0, new Uint16Array(22)); // the card's whole table
    dev.set(point(cf, 'heat_energy'), 4_321_567); // Wh; the register holds 4321.567 kWh
    dev.set(point(cf, 'cooling_energy'), 12_000);
    dev.set(point(cf, 'volume'), 98_765); // litres
    dev.write(3, 6, encodePoint({ type: 'float32' }, 52)); // 52 × 0.1 kW
    dev.write(3, 10, encodePoint({ type: 'float32' }, 552)); // 55.2 °C
    dev.write(3, 12, encodePoint({ type: 'float32' }, 421)); // 42.1 °C
    const r = await readDevicePoints(dev, 1, cf);
    expect(r.errors).toEqual([]);
    expect(r.requests).toBe(1);
    expect(r.points['heat_energy']).toMatchObject({ unit: 'Wh', integer: 4_321_567 });
    expect(r.points['cooling_energy']).toMatchObject({ unit: 'Wh', integer: 12_000 });
    expect(r.points['volume']).toMatchObject({ unit: 'dm3', integer: 98_765 });
    expect(r.points['heat_power']).toMatchObject({ unit: 'W', value: 5200 });
    expect(r.points['flow_temperature']?.value).toBeCloseTo(55.2, 5);
    expect(r.points['return_temperature']?.value).toBeCloseTo(42.1, 5);
  });

  it('reads the gas pulse counters: 32-bit, low word first, one pulse = 10 dm³', async () => {
    const gas = findProfile('gas-pulse');
    expect(gas.energy).toBe('gas');
    const dev = new SparseDevice();
    dev.write(4, 0, [0x0301]);
    dev.write(4, 50, [0b0001]);
    // 1 234 567 pulses = 0x0012D687, low register first.
    dev.write(3, 52, [0xd687, 0x0012]);
    dev.write(3, 54, [0, 0]);
    const r = await readDevicePoints(dev, 1, gas);
    expect(r.errors).toEqual([]);
    expect(r.points['gas_volume_taken']).toMatchObject({ unit: 'dm3', integer: 12_345_670 });
    expect(r.points['gas_volume_fed_in']).toMatchObject({ unit: 'dm3', integer: 0 });
  });
});

describe('identifyProfiles', () => {
  it('matches an SDM630 (most specific first) and a Huawei inverter, and nothing on an empty unit', async () => {
    const sdm = findProfile('eastron-sdm630');
    const meter = new SparseDevice();
    meter.write(4, 0, new Uint16Array(0x50));
    meter.set(point(sdm, 'l1_voltage'), 230.1);
    meter.set(point(sdm, 'frequency'), 50.01);
    meter.set(point(sdm, 'total_power'), 10);
    meter.write(3, 0x0a, encodePoint({ type: 'float32' }, 3)); // system type 3P4W
    const found = await identifyProfiles(meter, 1, profiles);
    expect(found[0]?.name).toBe('eastron-sdm630');

    const inverter = new SparseDevice();
    inverter.write(3, 30000, encodePoint({ type: 'string', size: 15 }, 'SUN2000-5KTL-L1'));
    expect((await identifyProfiles(inverter, 1, profiles)).map((p) => p.name)).toEqual(['huawei-sun2000']);

    expect(await identifyProfiles(new SparseDevice(), 1, profiles)).toEqual([]);
  });

  it('matches an iSMA 4DI by the type byte of its Version/Type word, whatever its firmware', async () => {
    const module = (versionType: number) => {
      const dev = new SparseDevice();
      dev.write(4, 0, [versionType, 7]); // Version/Type, module address
      dev.write(3, 52, encodePoint({ type: 'uint32', wordOrder: 'little' }, 123_456));
      return dev;
    };
    const names = async (dev: RegisterSource) =>
      (await identifyProfiles(dev, 7, profiles)).map((p) => p.name);
    // High byte: firmware × 10 (3.1, 4.0, 5.2); low byte: the type, 42 = SfAR-1M-4DI.
    for (const firmware of [31, 40, 52])
      expect(await names(module((firmware << 8) | 42))).toEqual(['isma-4di-gas']);
    // Other SfAR types: 45 (4DI-M), 44 (4DO), 43 (2DI2DO); and 42 in the high byte alone.
    for (const other of [0x282d, 0x282c, 0x282b, 0x2a00]) expect(await names(module(other))).toEqual([]);
    // A counter beyond any gas meter's index (10^8 pulses) is not a gas counter.
    const big = module(0x282a);
    big.write(3, 52, encodePoint({ type: 'uint32', wordOrder: 'little' }, 100_000_000));
    expect(await names(big)).toEqual([]);
  });

  it('matches an Itron CF Echo II card by a plausible serial and water temperatures, not an alarm', async () => {
    const itron = findProfile('itron-cf-echo-ii');
    const card = (values: Partial<Record<string, number>>) => {
      const dev = new SparseDevice();
      dev.write(3, 0, new Uint16Array(18));
      const all = { serial_number: 6_123_456, flow_temperature: 70.2, return_temperature: 41.5, ...values };
      for (const [name, v] of Object.entries(all)) dev.set(point(itron, name), v as number);
      return dev;
    };
    const names = async (dev: RegisterSource) =>
      (await identifyProfiles(dev, 1, profiles)).map((p) => p.name);
    expect(await names(card({}))).toEqual(['itron-cf-echo-ii']);
    expect(await names(card({ flow_temperature: 6.5, return_temperature: 12 }))).toEqual([
      'itron-cf-echo-ii',
    ]);
    // 999999 is the card's alarm value; 0 is "not available"; an SDM630's system type (3) at 10.
    expect(await names(card({ flow_temperature: 99_999.9 }))).toEqual([]);
    expect(await names(card({ serial_number: 0 }))).toEqual([]);
    const sdmLike = card({});
    sdmLike.write(3, 10, encodePoint({ type: 'float32' }, 3));
    expect(await names(sdmLike)).toEqual([]);
  });
});

// ---- bad profiles ---------------------------------------------------------------------------

const HEADER = `profile: test-meter
manufacturer: Test
models: [T1]
source: Test meter register map v1
roles: { importEnergy: imp }
`;

function lintOf(points: string, extra = ''): string[] {
  return lintProfileText(`${HEADER}${extra}points:\n${points}`, 'test.yaml').map(
    (i) => `${i.severity} ${i.path}: ${i.message}`,
  );
}

describe('profile errors name the file, the key path and what is allowed', () => {
  it('rejects an unknown key, listing the allowed ones', () => {
    expect(() => parseProfile(`${HEADER}points:\n  - { name: imp, adress: 1 }\n`, 'x.yaml')).toThrow(
      ProfileError,
    );
    try {
      parseProfile(`${HEADER}points:\n  - { name: imp, adress: 1 }\n`, 'x.yaml');
    } catch (e) {
      const msg = (e as ProfileError).message;
      expect(msg).toContain('x.yaml: invalid device profile');
      expect(msg).toMatch(/points\[0\]: unknown key\(s\) "adress"; allowed: name, address, function, type/);
      expect(msg).toMatch(/points\[0\]\.address: must be a register address/);
    }
  });

  it('rejects an unknown type, a bad function code and a bad YAML file', () => {
    expect(lintOf('  - { name: imp, address: 1, type: flaot32, function: 5 }\n')).toEqual([
      'error points[0].function: function is 3 (holding registers) or 4 (input registers)',
      expect.stringMatching(/^error points\[0\]\.type: type is one of int16, uint16, .*float32/),
    ]);
    expect(lintProfileText('profile: [unclosed\n', 'broken.yaml')[0]).toMatchObject({
      file: 'broken.yaml',
      path: 'YAML line 2',
      message: expect.stringMatching(/^Flow sequence .* end with a \]$/),
    });
  });

  it('rejects a role naming no point and a string without size', () => {
    expect(
      lintOf(
        '  - { name: other, address: 1, unit: Wh, counter: true, type: uint32 }\n  - { name: s, address: 9, type: string }\n',
      ),
    ).toEqual([
      'error points[1].size: a string point needs size (registers)',
      'error roles.importEnergy: no point named "imp"; points are other, s',
    ]);
  });
});

describe('lintProfile catches', () => {
  const ok = '  - { name: imp, address: 0, type: acc32, unit: Wh, counter: true }\n';
  it('nothing in a minimal good profile', () => {
    expect(lintOf(ok)).toEqual([]);
  });
  it('overlapping registers and duplicate names', () => {
    expect(lintOf(`${ok}  - { name: imp, address: 1, type: uint16, unit: W }\n`)).toEqual([
      'error points[1].name: "imp" is already the name of points[0]',
      'error points[1].address: imp (1+1) overlaps imp (0+2) in function 3',
      'error roles.importEnergy: imp must be a counter (counter: true)',
    ]);
  });
  it('counters that are not accumulators, not energy, or not exactly scalable', () => {
    expect(
      lintOf(
        '  - { name: imp, address: 0, type: uint16, unit: W, counter: true }\n' +
          '  - { name: exp, address: 4, type: uint32, unit: kWh, scale: 0.5, counter: true }\n',
      ),
    ).toEqual([
      'error points[0].type: imp is a counter but uint16 is not an accumulator type (acc32, acc64, uint32, uint64, int32, int64, float32, float64)',
      'error points[0].unit: imp is a counter, its unit must be energy (Wh, kWh, MWh, varh…) or volume (m3, L)',
      'error points[1].scale: exp is a counter; its scale must be a positive power of ten so Wh stay exact (got 0.5)',
      'error roles.importEnergy: imp must count energy: Wh, kWh or MWh (it is in W)',
    ]);
  });
  it('an import role that is no counter, missing units, SunSpec-only types, 1-based addresses, past the end', () => {
    expect(
      lintOf(
        '  - { name: imp, address: 0, type: uint32, unit: Wh }\n' +
          '  - { name: p, address: 10, type: int16 }\n' +
          '  - { name: sf, address: 11, type: sunssf, unit: null }\n' +
          '  - { name: v, address: 30001, function: 4, type: uint16, unit: V }\n' +
          '  - { name: e, address: 65535, type: uint32, unit: Wh }\n',
      ),
    ).toEqual([
      'warning points[3].address: 30001 looks like a 1-based "3xxxx" register number; addresses are 0-based (30001 → 0)',
      'error points[4].address: e runs past register 65535 (65535+2)',
      'error points[1].unit: p has no unit (write unit: null for a dimensionless value)',
      'error points[2].type: sunssf belongs in SunSpec models, not profiles',
      'error roles.importEnergy: imp must be a counter (counter: true)',
    ]);
  });
  it('a profile without energy roles and a power role in the wrong unit', () => {
    const text = `profile: t\nmanufacturer: T\nmodels: [T]\nsource: a public map\nroles: { power: p }\npoints:\n  - { name: p, address: 0, type: int16, unit: kvar }\n`;
    expect(lintProfileText(text, 't.yaml').map((i) => `${i.path}: ${i.message}`)).toEqual([
      'roles: name the import or export energy counter (roles.importEnergy / roles.exportEnergy)',
      'roles.power: p must be in W (it is in var)',
    ]);
  });
  it('volume counters outside gas, energy roles in the wrong unit, and a bad energy kind', () => {
    const head = 'profile: t\nmanufacturer: T\nmodels: [T]\nsource: a public map\n';
    const issues = (text: string) =>
      lintProfileText(`${head}${text}`, 't.yaml').map((i) => `${i.path}: ${i.message}`);
    const vol = '  - { name: v, address: 0, type: uint32, unit: m3, scale: 0.01, counter: true }\n';
    expect(issues(`roles: { importVolume: v }\npoints:\n${vol}`)).toEqual([
      'roles.importVolume: a volume counter stands for energy only for gas: set energy: gas',
    ]);
    expect(issues(`energy: gas\nroles: { importVolume: v }\npoints:\n${vol}`)).toEqual([]);
    expect(issues(`energy: heat\nroles: { importEnergy: v }\npoints:\n${vol}`)).toEqual([
      'roles.importEnergy: v must count energy: Wh, kWh or MWh (it is in dm3)',
    ]);
    expect(issues(`energy: steam\nroles: { importVolume: v }\npoints:\n${vol}`)).toEqual([
      'energy: energy is one of electricity, heat, gas (absent: electricity)',
    ]);
    expect(issues(`energy: gas\npoints:\n${vol}`)).toEqual([
      'roles: name the gas counters (roles.importVolume / roles.exportVolume, or roles.importEnergy / roles.exportEnergy)',
    ]);
  });
});
