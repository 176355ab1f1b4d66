// A Modbus client we did not write — mbpoll (Debian package `mbpoll`) — reads the simulator over
// TCP: the `SunS` marker of the SunSpec meter, its import energy counter, and the SDM630's power.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeRaw } from '../device-drivers/codec.js';
import { ManualClock } from '../device-drivers/sim/clock.js';
import { SDM630_REGISTERS } from '../device-drivers/sim/devices.js';
import { Simulator } from '../device-drivers/sim/simulator.js';

const run = promisify(execFile);
const START = Date.UTC(2025, 1, 3, 19); // a winter evening: the home imports

async function mbpoll(port: number, args: string[]): Promise<Map<number, string>> {
  const { stdout } = await run(
    'mbpoll',
    ['-m', 'tcp', '-p', String(port), '-0', '-1', '-o', '2', ...args, '127.0.0.1'],
    {
      timeout: 10_000,
    },
  ).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') throw new Error('mbpoll is not installed: apt-get install -y mbpoll');
    throw err;
  });
  const values = new Map<number, string>();
  for (const m of stdout.matchAll(/^\[(\d+)\]:\s+(\S+)/gm)) values.set(Number(m[1]), m[2] ?? '');
  return values;
}

describe('mbpoll reads the TCP simulator', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await Simulator.start({
      units: [
        { unit: 2, kind: 'sunspec-meter' },
        { unit: 4, kind: 'sdm630' },
      ],
      tcp: { port: 0 },
      clock: new ManualClock(START),
      home: { startMs: START, batteryWh: 0 }, // no battery: the evening load comes from the grid
    });
  });
  afterAll(async () => {
    await sim?.close();
  });

  it('reads the SunS marker at 40000', async () => {
    const v = await mbpoll(sim.tcpPort as number, ['-a', '2', '-r', '40000', '-c', '2', '-t', '4:hex']);
    expect(v.get(40000)).toBe('0x5375'); // "Su"
    expect(v.get(40001)).toBe('0x6E53'); // "nS"
  });

  it('reads the meter’s TotWhImp (acc32, Wh) and gets what the meter holds', async () => {
    const meter = sim.device(2) as ReturnType<Simulator['device']> & {
      image: { point(n: string): { address: number }; get(n: string): unknown };
    };
    meter.refresh?.();
    const address = meter.image.point('203.TotWhImp').address;
    const expected = meter.image.get('203.TotWhImp');
    expect(meter.image.get('203.TotWh_SF')).toBe(0);
    const v = await mbpoll(sim.tcpPort as number, ['-a', '2', '-r', String(address), '-t', '4:int', '-B']);
    expect(Number(v.get(address))).toBe(expected);
    expect(expected).toBeGreaterThan(100_000);
  });

  it('reads the SDM630’s total power (float32 input register) and gets the home’s grid power', async () => {
    const sdm = sim.device(4);
    sdm.refresh?.();
    const a = SDM630_REGISTERS.totalPower;
    const v = await mbpoll(sim.tcpPort as number, ['-a', '4', '-r', String(a), '-t', '3:float', '-B']);
    const expected = decodeRaw({ type: 'float32' }, sdm.bank.read('input', a, 2));
    expect(Number(v.get(a))).toBeCloseTo(expected as number, 3);
    expect(expected).toBe(sim.home.power.gridW);
    expect(sim.home.power.gridW).not.toBe(0);
  });
});
