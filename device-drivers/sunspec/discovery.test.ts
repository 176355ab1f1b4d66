// Discovery against in-memory register images. The RegisterSource here is a test double of the
// seam (the transports are tested against the simulators over real TCP and RTU elsewhere); it lets
// these tests set exactly which addresses answer, time out or raise exceptions.
import { describe, expect, it } from 'vitest';
import { encodeRaw } from '../codec.js';
import { ModbusExceptionError, ModbusTimeoutError, type RegisterSource } from '../register-source.js';
import { discoverSunSpec } from './discovery.js';
import { SunSpecImage } from './image.js';

type Region = { read(address: number, count: number): Uint16Array };

/** Answers from the first region that holds the whole range; elsewhere the fallback decides. */
class RegionSource implements RegisterSource {
  readonly log: string[] = [];
  constructor(
    private readonly regions: Region[],
    private readonly fallback: (address: number) => Error = () => new ModbusExceptionError(2),
  ) {}
  async readRegisters(unit: number, fn: 3 | 4, address: number, count: number): Promise<Uint16Array> {
    this.log.push(`${unit}:${fn}:${address}+${count}`);
    for (const r of this.regions) {
      try {
        return r.read(address, count);
      } catch (e) {
        if (!(e instanceof ModbusExceptionError)) throw e;
      }
    }
    throw this.fallback(address);
  }
}

function inverterImage(base = 40000): SunSpecImage {
  const img = new SunSpecImage(base, [{ id: 1 }, { id: 103 }, { id: 160, repeats: 2 }]);
  img.set('1.Mn', 'Wattproof Sim');
  img.set('1.Md', 'PV-5000');
  img.set('1.Vr', '1.2.3');
  img.set('1.SN', 'SIM-000123');
  img.set('1.DA', 1);
  return img;
}

describe('discoverSunSpec', () => {
  it('finds the marker at 40000, walks the chain to the end marker and decodes model 1', async () => {
    const src = new RegionSource([inverterImage()]);
    const dev = await discoverSunSpec(src, 1);
    expect(dev).toEqual({
      base: 40000,
      models: [
        { id: 1, address: 40002, length: 66 },
        { id: 103, address: 40070, length: 50 },
        { id: 160, address: 40122, length: 48 },
      ],
      common: {
        manufacturer: 'Wattproof Sim',
        model: 'PV-5000',
        options: null,
        version: '1.2.3',
        serial: 'SIM-000123',
        deviceAddress: 1,
        length: 66,
      },
      complete: true,
      warnings: [],
    });
  });

  it('tries 0 after an exception at 40000, and 50000 after a timeout at 0', async () => {
    const at0 = await discoverSunSpec(new RegionSource([inverterImage(0)]), 1);
    expect(at0?.base).toBe(0);
    const src = new RegionSource([inverterImage(50000)], (a) =>
      a < 40000 ? new ModbusTimeoutError() : new ModbusExceptionError(2),
    );
    const at50000 = await discoverSunSpec(src, 7);
    expect(at50000?.base).toBe(50000);
    expect(src.log.slice(0, 3)).toEqual(['7:3:40000+2', '7:3:0+2', '7:3:50000+2']);
  });

  it('skips a base that answers without the marker', async () => {
    const zeros = { read: (a: number, n: number) => (a >= 40000 && a < 40010 ? new Uint16Array(n) : fail()) };
    const dev = await discoverSunSpec(new RegionSource([zeros, inverterImage(50000)]), 1);
    expect(dev?.base).toBe(50000);
  });

  it('returns null when no base carries the marker', async () => {
    expect(await discoverSunSpec(new RegionSource([]), 1)).toBeNull();
  });

  it('accepts the legacy 65-register common model', async () => {
    const img = new SunSpecImage(40000, [{ id: 1, legacy: true }, { id: 203 }]);
    img.set('1.Mn', 'Old Meter Co');
    const dev = await discoverSunSpec(new RegionSource([img]), 1);
    expect(dev?.models).toEqual([
      { id: 1, address: 40002, length: 65 },
      { id: 203, address: 40069, length: 105 },
    ]);
    expect(dev?.common?.manufacturer).toBe('Old Meter Co');
    expect(dev?.common?.length).toBe(65);
  });

  it('accepts a chain without end marker that ends in an exception, and says so', async () => {
    const img = inverterImage();
    const cut = { read: (a: number, n: number) => (a + n <= 40170 ? img.read(a, n) : fail()) };
    const dev = await discoverSunSpec(new RegionSource([cut]), 1);
    expect(dev?.models.map((m) => m.id)).toEqual([1, 103, 160]);
    expect(dev?.complete).toBe(false);
    expect(dev?.warnings[0]).toMatch(/no end marker/);
  });

  it('stops at a length that runs past the address space', async () => {
    const regs = new Uint16Array(72);
    regs.set([0x5375, 0x6e53, 1, 66]);
    regs.set(encodeRaw({ type: 'string', size: 16 }, 'X'), 4);
    regs.set([64000, 65500], 70);
    const region = {
      read: (a: number, n: number) => (a >= 0 && a + n <= 72 ? regs.slice(a, a + n) : fail()),
    };
    const dev = await discoverSunSpec(new RegionSource([region]), 1, { bases: [0] });
    expect(dev?.models.map((m) => m.id)).toEqual([1]);
    expect(dev?.warnings).toEqual([
      'model 64000 at 70 claims 65500 registers, past the end of the address space',
    ]);
  });

  it('stops after maxModels on a garbage chain', async () => {
    const garbage = {
      read: (a: number, n: number) =>
        a === 40000 ? Uint16Array.from([0x5375, 0x6e53]) : Uint16Array.from({ length: n }, () => 7),
    };
    const dev = await discoverSunSpec(new RegionSource([garbage]), 1, { maxModels: 5 });
    expect(dev?.models).toHaveLength(5);
    expect(dev?.warnings[0]).toMatch(/stopped after 5 models/);
    expect(dev?.common).toBeNull();
  });

  it('passes on errors that are not a Modbus answer (a broken connection)', async () => {
    const broken: RegisterSource = {
      readRegisters: async () => {
        throw new Error('socket closed');
      },
    };
    await expect(discoverSunSpec(broken, 1)).rejects.toThrow('socket closed');
  });
});

function fail(): never {
  throw new ModbusExceptionError(2);
}
