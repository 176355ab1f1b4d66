// Where the agent's readings come from: one MeterSource per configured device, on the device
// drivers' ModbusBus (one bus per TCP endpoint or serial port, so devices sharing an RS-485 line
// take turns) and their SunSpec reader. The metering core sees only counters, power and flags.

import { ModbusBus } from '../device-drivers/bus.js';
import type { DeviceHealth } from '../device-drivers/bus-health.js';
import {
  type DeviceDescription,
  describeSunSpecDevice,
  readDevicePoints,
} from '../device-drivers/device-reader.js';
import { findProfile, type Profile } from '../device-drivers/profiles/loader.js';
import { ModbusRtuTransport, ModbusTcpTransport } from '../device-drivers/transport/index.js';
import type { EnergyType } from '../protocol/messages/index.js';
import { gasWhFromDm3 } from '../protocol/units.js';
import type { DeviceConfig } from './config.js';
import type { Counters } from './metering.js';

export interface MeterInfo {
  manufacturer?: string;
  model?: string;
  serial: string;
}

/** What a meter's counters measure: the energy its proofs are for. */
export interface MeterCarrier {
  energy: EnergyType;
  /** Gas counted by volume: the calorific value the installer declared, Wh per m³. */
  calorificValueWhPerM3?: number;
}

export interface MeterReading {
  /** In Wh; a gas meter that counts volume also gives its import volume (counters.volumeDm3). */
  counters: Counters;
  /** Absent: electricity. */
  carrier?: MeterCarrier;
  /** Active power, W (positive: import), if the device reports it. */
  powerW: number | null;
  /** A counter's scale factor changed since the previous read. */
  scaleChanged: boolean;
}

export interface MeterSource {
  readonly name: string;
  /** Finds the device's points (SunSpec discovery or its profile) and who it is. */
  describe(): Promise<MeterInfo>;
  /** Reads the counters; throws when they cannot be read (the interval is then flagged). */
  read(): Promise<MeterReading>;
  health(): DeviceHealth | undefined;
}

/** Which points of a SunSpec device carry the counters, by model (meters before inverters). */
const SUNSPEC_COUNTERS: Array<{ models: number[]; importWh?: string; exportWh?: string; powerW: string }> = [
  {
    models: [201, 202, 203, 204, 211, 212, 213, 214],
    importWh: 'TotWhImp',
    exportWh: 'TotWhExp',
    powerW: 'W',
  },
  // An inverter's lifetime energy counter is what it fed out (export); it imports nothing it counts.
  { models: [101, 102, 103, 111, 112, 113], exportWh: 'WH', powerW: 'W' },
];

export class CounterUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CounterUnavailableError';
  }
}

export class SunSpecMeterSource implements MeterSource {
  private description: DeviceDescription | undefined;
  private names: { importWh?: string; exportWh?: string; powerW: string } | undefined;
  private readonly previousSf = new Map<string, number | null>();

  constructor(
    private readonly bus: ModbusBus,
    private readonly device: DeviceConfig,
  ) {}

  get name(): string {
    return this.device.name;
  }

  health(): DeviceHealth | undefined {
    return this.bus.health(this.device.unit);
  }

  async describe(): Promise<MeterInfo> {
    const d = this.device;
    const desc = await describeSunSpecDevice(
      this.bus,
      d.unit,
      d.sunspecBase !== undefined ? { bases: [d.sunspecBase] } : {},
    );
    if (desc === null) throw new CounterUnavailableError(`${d.name}: no SunSpec marker at unit ${d.unit}`);
    const ids = new Set(desc.models.map((m) => m.id));
    // A PV inverter's own counter for role pv; otherwise a meter model first.
    const order = d.role === 'pv' ? [...SUNSPEC_COUNTERS].reverse() : SUNSPEC_COUNTERS;
    for (const c of order) {
      const m = c.models.find((id) => ids.has(id));
      if (m === undefined) continue;
      this.names = {
        ...(c.importWh ? { importWh: `${m}.${c.importWh}` } : {}),
        ...(c.exportWh ? { exportWh: `${m}.${c.exportWh}` } : {}),
        powerW: `${m}.${c.powerW}`,
      };
      break;
    }
    if (!this.names) {
      throw new CounterUnavailableError(
        `${d.name}: none of the SunSpec models found (${[...ids].join(', ')}) has an energy counter`,
      );
    }
    this.description = desc;
    const serial = d.serial ?? desc.common?.serial ?? `unit-${d.unit}`;
    return {
      serial,
      ...(desc.common?.manufacturer ? { manufacturer: desc.common.manufacturer } : {}),
      ...(desc.common?.model ? { model: desc.common.model } : {}),
    };
  }

  async read(): Promise<MeterReading> {
    if (!this.description || !this.names) await this.describe();
    const names = this.names!;
    const wanted = [names.importWh, names.exportWh, names.powerW].filter((n): n is string => n !== undefined);
    const r = await readDevicePoints(this.bus, this.device.unit, this.description!, {
      names: wanted,
      previousSf: this.previousSf,
    });
    return toReading(this.device.name, r.points, names);
  }
}

/** One bus per physical link; devices on the same link share it. */
export class Buses {
  private readonly buses = new Map<string, ModbusBus>();

  busFor(d: DeviceConfig): ModbusBus {
    const t = d.transport;
    const key = t.type === 'tcp' ? `tcp:${t.host}:${t.port}` : `rtu:${t.path}`;
    let bus = this.buses.get(key);
    if (!bus) {
      const transport =
        t.type === 'tcp'
          ? new ModbusTcpTransport({ host: t.host, port: t.port, timeoutMs: t.timeoutMs })
          : new ModbusRtuTransport({
              path: t.path,
              baudRate: t.baud,
              parity: t.parity,
              dataBits: t.dataBits as 7 | 8,
              stopBits: t.stopBits as 1 | 2,
              timeoutMs: t.timeoutMs,
            });
      bus = new ModbusBus(transport, { timeoutMs: t.timeoutMs });
      this.buses.set(key, bus);
    }
    bus.configureUnit(d.unit, { timeoutMs: t.timeoutMs });
    return bus;
  }

  async close(): Promise<void> {
    await Promise.all([...this.buses.values()].map((b) => b.close()));
    this.buses.clear();
  }
}

/**
 * A device read through its profile (device-drivers/profiles): the profile's roles name the
 * counters. An inverter's PV energy counts as export when it has no export counter of its own.
 */
export class ProfileMeterSource implements MeterSource {
  private profile: Profile | undefined;
  private names: CounterNames | undefined;
  private carrier: MeterCarrier = { energy: 'electricity' };
  private readonly previousSf = new Map<string, number | null>();

  constructor(
    private readonly bus: ModbusBus,
    private readonly device: DeviceConfig,
  ) {}

  get name(): string {
    return this.device.name;
  }

  health(): DeviceHealth | undefined {
    return this.bus.health(this.device.unit);
  }

  async describe(): Promise<MeterInfo> {
    const d = this.device;
    let profile: Profile;
    try {
      profile = findProfile(d.profile ?? '');
    } catch (err) {
      throw new CounterUnavailableError(`${d.name}: ${err instanceof Error ? err.message : String(err)}`);
    }
    const r = profile.roles;
    const exportWh = r.exportEnergy ?? r.pvEnergy;
    const powerW = r.power ?? r.pvPower;
    const byVolume = r.importVolume !== undefined || r.exportVolume !== undefined;
    const cv = d.calorificValueWhPerM3;
    if (byVolume) {
      // Gas by volume: Wh = floor(dm³ × calorific value / 1000), the protocol's conversion.
      if (cv === undefined) {
        throw new CounterUnavailableError(
          `${d.name}: profile ${profile.name} counts gas by volume; declare the gas's calorific value as devices[].calorificValueWhPerM3 (Wh per m³, published by the gas network, e.g. 10550)`,
        );
      }
      this.names = {
        ...(r.importVolume ? { importDm3: r.importVolume } : {}),
        ...(r.exportVolume ? { exportDm3: r.exportVolume } : {}),
        ...(powerW ? { powerW } : {}),
      };
      this.carrier = { energy: 'gas', calorificValueWhPerM3: cv };
    } else {
      if (r.importEnergy === undefined && exportWh === undefined) {
        throw new CounterUnavailableError(`${d.name}: profile ${profile.name} names no energy counter`);
      }
      if (cv !== undefined) {
        throw new CounterUnavailableError(
          `${d.name}: calorificValueWhPerM3 is only for gas meters that count volume; profile ${profile.name} counts ${profile.energy} in Wh (remove the key)`,
        );
      }
      this.names = {
        ...(r.importEnergy ? { importWh: r.importEnergy } : {}),
        ...(exportWh ? { exportWh } : {}),
        ...(powerW ? { powerW } : {}),
      };
      this.carrier = { energy: profile.energy };
    }
    this.profile = profile;
    // A profile has no serial-number role; the installer's `serial`, else the bus address.
    const where = d.transport.type === 'tcp' ? `${d.transport.host}:${d.transport.port}` : d.transport.path;
    return {
      serial: d.serial ?? `${profile.name}@${where}#${d.unit}`.slice(0, 64),
      manufacturer: profile.manufacturer,
      ...(profile.models[0] ? { model: profile.models[0] } : {}),
    };
  }

  async read(): Promise<MeterReading> {
    if (!this.profile || !this.names) await this.describe();
    const names = this.names!;
    const wanted = [names.importWh, names.exportWh, names.importDm3, names.exportDm3, names.powerW].filter(
      (n): n is string => n !== undefined,
    );
    const r = await readDevicePoints(this.bus, this.device.unit, this.profile!, {
      names: wanted,
      previousSf: this.previousSf,
    });
    return toReading(this.device.name, r.points, names, this.carrier);
  }
}

type Points = Awaited<ReturnType<typeof readDevicePoints>>['points'];

/** Point names of the counters: energy in Wh, or (gas) volume in dm³. */
interface CounterNames {
  importWh?: string;
  exportWh?: string;
  importDm3?: string;
  exportDm3?: string;
  powerW?: string;
}

function toReading(
  device: string,
  points: Points,
  names: CounterNames,
  carrier: MeterCarrier = { energy: 'electricity' },
): MeterReading {
  const counter = (n: string | undefined): { v: number; sfChanged: boolean } => {
    if (n === undefined) return { v: 0, sfChanged: false };
    const p = points[n];
    if (p?.integer === undefined) {
      throw new CounterUnavailableError(`${device}: ${n} has no value (${p?.error ?? 'not implemented'})`);
    }
    return { v: p.integer, sfChanged: p.sfChanged === true };
  };
  const w = names.powerW === undefined ? undefined : points[names.powerW]?.value;
  const powerW = typeof w === 'number' ? Math.round(w) : null;
  const cv = carrier.calorificValueWhPerM3;
  if (cv !== undefined) {
    const impDm3 = counter(names.importDm3);
    const expDm3 = counter(names.exportDm3);
    return {
      counters: {
        importWh: gasWhFromDm3(impDm3.v, cv),
        exportWh: gasWhFromDm3(expDm3.v, cv),
        ...(names.importDm3 !== undefined ? { volumeDm3: impDm3.v } : {}),
      },
      carrier,
      powerW,
      scaleChanged: impDm3.sfChanged || expDm3.sfChanged,
    };
  }
  const imp = counter(names.importWh);
  const exp = counter(names.exportWh);
  return {
    counters: { importWh: imp.v, exportWh: exp.v },
    ...(carrier.energy !== 'electricity' ? { carrier } : {}),
    powerW,
    scaleChanged: imp.sfChanged || exp.sfChanged,
  };
}

/** The source for a configured device. */
export function meterSourceFor(buses: Buses, d: DeviceConfig): MeterSource {
  return d.kind === 'sunspec'
    ? new SunSpecMeterSource(buses.busFor(d), d)
    : new ProfileMeterSource(buses.busFor(d), d);
}
