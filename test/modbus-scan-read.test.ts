// scan and read against a simulated home, over a real TCP socket and over a socat pseudo-terminal
// pair: every device is found at its unit and base (the heat meter and the gas pulse module by
// their profiles' identify rules), every point decodes to what the device holds, and the reader
// sends exactly the minimum number of requests, counted at the simulator.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModbusBus } from '../device-drivers/bus.js';
import { decodePoint } from '../device-drivers/codec.js';
import { planReads, readDevicePoints } from '../device-drivers/device-reader.js';
import type { PointDef } from '../device-drivers/points.js';
import { loadProfiles } from '../device-drivers/profiles/loader.js';
import { readDevice } from '../device-drivers/read-device.js';
import { scanBus } from '../device-drivers/scan.js';
import { ManualClock } from '../device-drivers/sim/clock.js';
import type { SimDevice } from '../device-drivers/sim/devices.js';
import { Simulator, type UnitSpec } from '../device-drivers/sim/simulator.js';
import { ModbusRtuTransport, ModbusTcpTransport } from '../device-drivers/transport/index.js';
import { type PtyPair, startPtyPair } from './support/socat.js';

const START = Date.UTC(2025, 5, 21, 14); // mid-afternoon: the PV produces, the battery charges
const UNITS: UnitSpec[] = [
  { unit: 1, kind: 'sunspec-inverter' },
  { unit: 2, kind: 'sunspec-meter', base: 0 },
  { unit: 3, kind: 'sunspec-battery', base: 50000 },
  { unit: 4, kind: 'sdm630' },
  { unit: 5, kind: 'heat-meter' },
  { unit: 6, kind: 'gas-meter' },
];
const profiles = loadProfiles();

const expectedScan = [
  {
    unit: 1,
    base: 40000,
    models: [1, 103, 160],
    manufacturer: 'Wattproof Sim',
    model: 'SimInverter 6K3P',
    profile: null,
  },
  { unit: 2, base: 0, models: [1, 203], manufacturer: 'Wattproof Sim', model: 'SimMeter 3P', profile: null },
  {
    unit: 3,
    base: 50000,
    models: [1, 124, 802],
    manufacturer: 'Wattproof Sim',
    model: 'SimBattery 10kWh',
    profile: null,
  },
  { unit: 4, base: null, models: [], manufacturer: 'Eastron', serial: null, profile: 'eastron-sdm630' },
  {
    unit: 5,
    base: null,
    models: [],
    manufacturer: 'Itron',
    model: 'CF Echo II',
    serial: null,
    profile: 'itron-cf-echo-ii',
  },
  {
    unit: 6,
    base: null,
    models: [],
    manufacturer: 'iSMA CONTROLLI',
    model: 'SFAR-1M-4DI',
    serial: null,
    profile: 'isma-4di-gas',
  },
];

/**
 * The fewest requests that cover `points`, found independently of the planner: a request reads one
 * function code, may hold at most `max` registers and skip at most `gap` unused ones; points
 * sorted by address are covered greedily, which is optimal for intervals on a line.
 */
function minimumRequests(points: readonly PointDef[], max: number, gap: number): number {
  let count = 0;
  let fn = -1;
  let start = -1;
  let end = -1;
  for (const p of [...points].sort((a, b) => a.fn - b.fn || a.address - b.address)) {
    const fits = p.fn === fn && p.address - end <= gap && p.address + p.size - start <= max;
    if (!fits) {
      count++;
      fn = p.fn;
      start = p.address;
      end = p.address;
    }
    end = Math.max(end, p.address + p.size);
  }
  return count;
}

/** What the device holds for a point, decoded from its own registers. */
function held(device: SimDevice, name: string): unknown {
  const image = (device as SimDevice & { image?: { get(n: string): unknown } }).image;
  return image?.get(name);
}

function sharedCases(label: string, ctx: () => { sim: Simulator; bus: ModbusBus }) {
  it(`${label}: scan finds every device at its unit and base`, async () => {
    const { bus } = ctx();
    const progress: string[] = [];
    const result = await scanBus(bus, {
      units: [1, 2, 3, 4, 5, 6, 7],
      profiles,
      onProgress: (e) => progress.push(e.kind),
    });
    expect(result.devices).toMatchObject(expectedScan);
    for (const d of result.devices.slice(0, 3)) expect(d.serial).toMatch(/^SIM(INV|MTR|BAT)-0001-00\d$/);
    expect(result.unknown).toEqual([]);
    expect(progress.filter((k) => k === 'unit')).toHaveLength(7);
    expect(progress.filter((k) => k === 'found')).toHaveLength(6);
    expect(progress.filter((k) => k === 'silent')).toHaveLength(1);
  });

  it(`${label}: read decodes every point of every device to what the device holds`, async () => {
    const { sim, bus } = ctx();
    for (const { unit } of UNITS) {
      const read = await readDevice(bus, unit, { profiles });
      expect(read.reading.errors).toEqual([]);
      const device = sim.device(unit);
      const names = read.points.map((p) => p.name);
      expect(Object.keys(read.reading.points).sort()).toEqual([...names].sort());
      for (const p of read.points) {
        const want =
          device.base !== null
            ? held(device, p.name)
            : decodePoint(p, device.bank.read(p.fn === 3 ? 'holding' : 'input', p.address, p.size)).value;
        expect([p.name, read.reading.points[p.name]?.value]).toEqual([p.name, want]);
      }
    }
  });

  it(`${label}: the reader sends the minimum number of requests for each device`, async () => {
    const { sim, bus } = ctx();
    const figures: Record<string, number> = {};
    for (const { unit, kind } of UNITS) {
      // Describe first (discovery costs requests of its own), then count one full read.
      const first = await readDevice(bus, unit, { profiles });
      const from = first.source;
      const profile = from.kind === 'profile' ? profiles.find((p) => p.name === from.name) : undefined;
      const max = profile?.planner.maxRegisters ?? 125;
      const gap = profile ? (profile.planner.maxGap ?? 0) : 125;
      const minimum = minimumRequests(first.points, max, gap);
      const plan = planReads(first.points, profile?.planner ?? { maxRegisters: 125, maxGap: 125 });
      expect(plan.requests.length).toBe(minimum);
      sim.resetRequestCount();
      await readDevicePoints(bus, unit, {
        points: first.points,
        planner: profile?.planner ?? { maxRegisters: 125, maxGap: 125 },
      });
      expect(sim.requests(unit)).toBe(minimum);
      figures[kind] = minimum;
    }
    // SunSpec chains are contiguous: 1+103+160 (2 modules) = 68 + 52 + 50 registers → 2 requests;
    // 1+203 = 68 + 107 → 2; 1+124+802 = 68 + 26 + 64 → 2. The SDM630 (80 registers per request, gaps
    // up to 16): 0x00-0x4F in one, then 0xC8-0xCD, 0xE0-0xE1 (18 apart) and 0x156-0x159 → 4. The
    // heat meter's card: holding 0-17 in one (22 per request). The gas module: input registers 0 and
    // 50 apart (no gaps read), the counters at holding 52-55 → 3.
    expect(figures).toEqual({
      'sunspec-inverter': 2,
      'sunspec-meter': 2,
      'sunspec-battery': 2,
      sdm630: 4,
      'heat-meter': 1,
      'gas-meter': 3,
    });
  });
}

describe('scan and read over Modbus TCP', () => {
  let sim: Simulator;
  let bus: ModbusBus;
  beforeAll(async () => {
    sim = await Simulator.start({
      units: UNITS,
      tcp: { port: 0 },
      clock: new ManualClock(START),
      home: { startMs: START },
    });
    bus = new ModbusBus(
      new ModbusTcpTransport({ host: '127.0.0.1', port: sim.tcpPort as number, timeoutMs: 500 }),
      {
        retries: 0,
        backoff: false,
      },
    );
  });
  afterAll(async () => {
    await bus?.close();
    await sim?.close();
  });
  sharedCases('tcp', () => ({ sim, bus }));
});

describe('scan and read over Modbus RTU (socat pseudo-terminals)', () => {
  let pty: PtyPair;
  let sim: Simulator;
  let bus: ModbusBus;
  beforeAll(async () => {
    pty = await startPtyPair();
    sim = await Simulator.start({
      units: UNITS,
      rtu: { path: pty.device, baudRate: 38400 },
      clock: new ManualClock(START),
      home: { startMs: START },
    });
    // Empty addresses are silent on RTU: each costs one timeout per SunSpec base probed.
    bus = new ModbusBus(new ModbusRtuTransport({ path: pty.client, baudRate: 38400, timeoutMs: 150 }), {
      retries: 0,
      backoff: false,
    });
  });
  afterAll(async () => {
    await bus?.close();
    await sim?.close();
    await pty?.close();
  });
  sharedCases('rtu', () => ({ sim, bus }));
});
