// The reader against in-memory SunSpec images. The RegisterSource is a test double of the seam:
// transports and simulators are tested over real TCP and RTU elsewhere; here the point is the
// reader's logic (planning, decoding, scale factors, per-point errors), with exact control over
// which request fails.
import { describe, expect, it } from 'vitest';
import {
  describeSunSpecDevice,
  planReads,
  readDevicePoints,
  readingToJson,
  readPoints,
  selectPoints,
} from './device-reader.js';
import { ModbusExceptionError, ModbusTimeoutError, type RegisterSource } from './register-source.js';
import { type ImageModelSpec, SunSpecImage } from './sunspec/image.js';

class ImageSource implements RegisterSource {
  readonly log: string[] = [];
  failing: (address: number, count: number) => Error | undefined = () => undefined;
  constructor(private readonly units: Map<number, SunSpecImage>) {}
  async readRegisters(unit: number, fn: 3 | 4, address: number, count: number): Promise<Uint16Array> {
    this.log.push(`${unit}:${fn}:${address}+${count}`);
    const img = this.units.get(unit);
    if (img === undefined || fn !== 3) throw new ModbusTimeoutError();
    const err = this.failing(address, count);
    if (err !== undefined) throw err;
    return img.read(address, count);
  }
}

const INVERTER: ImageModelSpec[] = [{ id: 1 }, { id: 103 }, { id: 160, repeats: 2 }];
const METER: ImageModelSpec[] = [{ id: 1 }, { id: 203 }];
const BATTERY: ImageModelSpec[] = [{ id: 1 }, { id: 124 }, { id: 802 }];

function meter(): SunSpecImage {
  const img = new SunSpecImage(40000, METER);
  img.set('1.Mn', 'Wattproof Sim');
  img.set('1.Md', 'Meter-3P');
  img.set('1.SN', 'M-1');
  img.set('203.W_SF', 0);
  img.set('203.W', -1520);
  img.set('203.V_SF', -1);
  img.set('203.PhVphA', 230.4);
  img.set('203.TotWh_SF', 1);
  img.set('203.TotWhImp', 12_345_670);
  img.set('203.TotWhExp', 20);
  img.set('203.Hz_SF', -2);
  img.set('203.Hz', 49.98);
  return img;
}

describe('describeSunSpecDevice + readDevicePoints', () => {
  it('reads every point of a SunSpec meter, scaled, named <model>.<point>, with units', async () => {
    const src = new ImageSource(new Map([[1, meter()]]));
    const dev = await describeSunSpecDevice(src, 1);
    expect(dev?.models.map((m) => m.id)).toEqual([1, 203]);
    expect(dev?.common?.model).toBe('Meter-3P');
    const reading = await readDevicePoints(src, 1, dev!);
    const json = readingToJson(reading);
    expect(json['203.W']).toEqual({ value: -1520, unit: 'W' });
    expect(json['203.PhVphA']).toEqual({ value: 230.4, unit: 'V' });
    expect(json['203.Hz']).toEqual({ value: 49.98, unit: 'Hz' });
    expect(json['203.TotWhImp']).toEqual({ value: 12_345_670, unit: 'Wh' });
    expect(json['1.Mn']).toEqual({ value: 'Wattproof Sim', unit: null });
    // Not-implemented points read as null, never as a number.
    expect(json['203.VAR']).toEqual({ value: null, unit: 'var' });
    expect(reading.points['203.TotWhImp']?.integer).toBe(12_345_670);
    expect(reading.points['203.TotWhExp']?.integer).toBe(20);
    expect(reading.failedRequests).toBe(0);
    // Every point of every model is in the output.
    expect(Object.keys(json)).toHaveLength(dev!.points.length);
  });

  it('reads only the named points plus their scale factors', async () => {
    const src = new ImageSource(new Map([[1, meter()]]));
    const dev = (await describeSunSpecDevice(src, 1))!;
    src.log.length = 0;
    const reading = await readDevicePoints(src, 1, dev, { names: ['203.TotWhImp', '203.W'] });
    expect(Object.keys(reading.points).sort()).toEqual(['203.TotWhImp', '203.TotWh_SF', '203.W', '203.W_SF']);
    expect(src.log).toEqual(['1:3:40088+37']);
    expect(() => selectPoints(dev.points, ['203.Nope'])).toThrow(/unknown point\(s\): 203.Nope/);
  });

  it('returns null for a device without SunSpec', async () => {
    expect(await describeSunSpecDevice(new ImageSource(new Map()), 9)).toBeNull();
  });
});

describe('request counts for the simulated devices are the minimum', () => {
  // All points of a device span one contiguous block; the minimum is ceil(span / 125) requests,
  // or with breaks at model boundaries the sum of that over each model.
  const cases: Array<[string, ImageModelSpec[], number, number]> = [
    ['inverter 1+103+160 (2 modules)', INVERTER, 2, 3],
    ['meter 1+203', METER, 2, 2],
    ['battery 1+124+802', BATTERY, 2, 3],
  ];
  for (const [name, models, whole, perModel] of cases) {
    it(`${name}: ${whole} request(s), ${perModel} when models may not be crossed`, async () => {
      const img = new SunSpecImage(40000, models);
      const src = new ImageSource(new Map([[1, img]]));
      const dev = (await describeSunSpecDevice(src, 1))!;
      const first = dev.points[0]!.address;
      const last = dev.points.at(-1)!;
      const span = last.address + last.size - first;
      expect(whole).toBe(Math.ceil(span / 125));
      const plan = planReads(dev.points, dev.planner);
      expect(plan.requests).toHaveLength(whole);
      expect(plan.split).toEqual([]);

      const strict = (await describeSunSpecDevice(src, 1, { breakAtModels: true }))!;
      const lower = strict.models.reduce((n, m) => n + Math.ceil((m.length + 2) / 125), 0);
      expect(perModel).toBe(lower);
      expect(planReads(strict.points, strict.planner).requests).toHaveLength(perModel);

      src.log.length = 0;
      const reading = await readDevicePoints(src, 1, dev);
      expect(src.log).toHaveLength(whole);
      expect(Object.values(reading.points).some((r) => r.sfSplit)).toBe(false);
    });
  }
});

describe('scale factors and errors', () => {
  it('reports a scale factor that changed since the previous read', async () => {
    const img = meter();
    const src = new ImageSource(new Map([[1, img]]));
    const dev = (await describeSunSpecDevice(src, 1))!;
    const previousSf = new Map<string, number | null>();
    const first = await readDevicePoints(src, 1, dev, { names: ['203.W'], previousSf });
    expect(first.points['203.W']?.sfChanged).toBeUndefined();
    expect(previousSf.get('203.W_SF')).toBe(0);
    img.set('203.W_SF', 1);
    img.set('203.W', -1520);
    const second = await readDevicePoints(src, 1, dev, { names: ['203.W'], previousSf });
    expect(second.points['203.W']).toMatchObject({ value: -1520, raw: -152, exp: 1, sfChanged: true });
    const third = await readDevicePoints(src, 1, dev, { names: ['203.W'], previousSf });
    expect(third.points['203.W']?.sfChanged).toBeUndefined();
  });

  it('says when a value and its scale factor came from different requests', async () => {
    const src = new ImageSource(new Map([[1, meter()]]));
    const dev = (await describeSunSpecDevice(src, 1))!;
    const points = selectPoints(dev.points, ['203.W']);
    // A plan that reads W and W_SF separately (what a device with a break between them forces).
    const plan = planReads(points, { breaks: [points[1]!.address] });
    expect(plan.requests).toHaveLength(2);
    const reading = await readPoints(src, 1, points, plan);
    expect(reading.points['203.W']).toMatchObject({ value: -1520, sfSplit: true });
  });

  it('a failed request costs only its points; a missing scale factor gives null with the reason', async () => {
    const src = new ImageSource(new Map([[1, meter()]]));
    const dev = (await describeSunSpecDevice(src, 1, { breakAtModels: true }))!;
    src.failing = (address) => (address >= 40070 ? new ModbusExceptionError(4) : undefined);
    const reading = await readDevicePoints(src, 1, dev);
    expect(reading.failedRequests).toBe(1);
    expect(reading.errors[0]).toMatch(/at 40070 \(fn 3\) failed: Modbus exception 4/);
    expect(reading.points['1.Mn']?.value).toBe('Wattproof Sim');
    expect(reading.points['203.W']).toMatchObject({
      value: null,
      error: expect.stringMatching(/exception 4/),
    });

    const points = selectPoints(dev.points, ['203.W']).filter((p) => p.name === '203.W');
    const alone = await readPoints(new ImageSource(new Map([[1, meter()]])), 1, points, planReads(points));
    expect(alone.points['203.W']).toMatchObject({
      value: null,
      raw: -1520,
      error: 'scale factor 203.W_SF was not read',
    });
  });

  it('gives exact integer Wh for counters with negative scale factors (floor)', async () => {
    const img = meter();
    img.set('203.TotWh_SF', -2);
    img.set('203.TotWhImp', 1234.5678);
    const src = new ImageSource(new Map([[1, img]]));
    const dev = (await describeSunSpecDevice(src, 1))!;
    const r = await readDevicePoints(src, 1, dev, { names: ['203.TotWhImp'] });
    expect(r.points['203.TotWhImp']).toMatchObject({ value: 1234.57, raw: 123457, exp: -2, integer: 1234 });
  });

  it('gives integer Wh for float meter counters (model 213)', async () => {
    const img = new SunSpecImage(40000, [{ id: 1 }, { id: 213 }]);
    img.set('213.TotWhImp', 1_234_567.25);
    const src = new ImageSource(new Map([[1, img]]));
    const dev = (await describeSunSpecDevice(src, 1))!;
    const r = await readDevicePoints(src, 1, dev, { names: ['213.TotWhImp'] });
    expect(r.points['213.TotWhImp']).toMatchObject({ value: 1_234_567.25, unit: 'Wh', integer: 1_234_567 });
  });
});
