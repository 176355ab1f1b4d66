// Setpoints to the simulated battery over real Modbus TCP: the rates and mode written through
// model 124 read back as written, the battery's power (802.W) follows within its limits, its AC
// meter counts the energy, the device reverts by itself after RvrtTms, and a refused write is
// reported, not taken as done.
import { afterEach, describe, expect, it } from 'vitest';
import { ratesForSetpoint, SunSpecBatteryControl, writeAndReadBack } from './battery-control.js';
import { ModbusBus } from './bus.js';
import { ModbusExceptionError } from './register-source.js';
import type { ManualClock } from './sim/clock.js';
import { Simulator } from './sim/simulator.js';
import { BatteryAcMeter, setpointFromControls } from './sim/storage-control.js';
import { ModbusTcpTransport } from './transport/tcp.js';

const NIGHT = Date.UTC(2026, 0, 15, 2, 0); // no PV

describe('ratesForSetpoint (pure)', () => {
  it('turns watts into a percentage of WChaMax at the rate resolution, and back', () => {
    expect(ratesForSetpoint(2000, 5000, -2)).toEqual({ mode: 2, outPct: 40, inPct: 0, appliedW: 2000 });
    expect(ratesForSetpoint(-1234, 5000, -2)).toEqual({ mode: 1, outPct: 0, inPct: 24.68, appliedW: -1234 });
    // 1 % steps: 1234 W of 5000 is 24.68 % → 25 % → 1250 W really asked for.
    expect(ratesForSetpoint(-1234, 5000, 0)).toEqual({ mode: 1, outPct: 0, inPct: 25, appliedW: -1250 });
    // Above WChaMax: capped at 100 %.
    expect(ratesForSetpoint(9000, 5000, -2).appliedW).toBe(5000);
    expect(ratesForSetpoint(0, 5000, -2)).toEqual({ mode: 0, outPct: 0, inPct: 0, appliedW: 0 });
    expect(() => ratesForSetpoint(100, 0, 0)).toThrow(/WChaMax/);
  });

  it('the simulator reads the controls back into the same watts', () => {
    for (const w of [2000, -1234, 5000, -5000, 1]) {
      const r = ratesForSetpoint(w, 5000, -2);
      expect(setpointFromControls({ mode: r.mode, outPct: r.outPct, inPct: r.inPct, wChaMax: 5000 })).toBe(
        r.appliedW,
      );
    }
    expect(setpointFromControls({ mode: 0, outPct: 50, inPct: 0, wChaMax: 5000 })).toBeNull();
  });
});

describe('SunSpecBatteryControl against the simulated battery over Modbus TCP', () => {
  let sim: Simulator | undefined;
  let bus: ModbusBus | undefined;
  afterEach(async () => {
    await bus?.close();
    await sim?.close();
  });

  async function start() {
    const clock = Simulator.manualClock(NIGHT) as ManualClock;
    sim = await Simulator.start({
      units: [{ unit: 3, kind: 'sunspec-battery' }],
      tcp: { host: '127.0.0.1', port: 0 },
      clock,
      home: { startMs: NIGHT, pvPeakW: 0, socStart: 0.5 },
    });
    const meter = new BatteryAcMeter(sim.home, clock, 4);
    sim.units.add(4, meter);
    bus = new ModbusBus(
      new ModbusTcpTransport({ host: '127.0.0.1', port: sim.tcpPort ?? 0, timeoutMs: 1000 }),
    );
    return { sim, clock, bus, meter };
  }

  it('the battery follows a discharge then a charge setpoint; the AC meter counts it; release hands back', async () => {
    const { sim, clock, bus, meter } = await start();
    const ctl = await SunSpecBatteryControl.open(bus, 3);
    const before = await ctl.state();
    expect(before.wChaMax).toBe(5000);
    expect(before.socPct).toBeCloseTo(50, 0);

    const r = await ctl.setpoint(3000, 0);
    expect(r.appliedW).toBe(3000);
    expect(sim.home.batterySetpointW).toBe(3000);
    expect((await ctl.state()).powerW).toBe(3000);
    meter.refresh();
    const exp0 = meter.image.get('203.TotWhExp') as number;
    clock.advance(60_000);
    expect((await ctl.state()).powerW).toBe(3000);
    meter.refresh();
    expect(meter.image.get('203.W')).toBe(-3000);
    // One minute at 3000 W: 50 Wh out of the battery, counted by its AC meter as export.
    expect((meter.image.get('203.TotWhExp') as number) - exp0).toBe(50);

    await ctl.setpoint(-2500, 0);
    expect((await ctl.state()).powerW).toBe(-2500);
    // Beyond the battery's 5 kW: the device takes 100 % of WChaMax and the power stays at its limit.
    await ctl.setpoint(-7000, 0);
    expect((await ctl.state()).powerW).toBe(-5000);

    await ctl.setpoint(0, 0);
    expect(sim.home.batterySetpointW).toBeNull();
    expect((await ctl.state()).mode).toBe(0);
  });

  it('reverts by itself after InOutWRte_RvrtTms of device time', async () => {
    const { sim, clock, bus } = await start();
    const ctl = await SunSpecBatteryControl.open(bus, 3);
    await ctl.setpoint(2000, 30);
    clock.advance(29_000);
    expect((await ctl.state()).powerW).toBe(2000);
    clock.advance(2_000);
    const after = await ctl.state();
    expect(after.mode).toBe(0);
    expect(sim.home.batterySetpointW).toBeNull();
  });

  it('a register the device will not take is an exception, and a read-back mismatch is an error', async () => {
    const { bus } = await start();
    // 124.ChaState is read-only on the device.
    const ctl = await SunSpecBatteryControl.open(bus, 3);
    await expect(bus.writeRegisters(3, 40000 + 2 + 66 + 2 + 8, Uint16Array.of(1))).rejects.toBeInstanceOf(
      ModbusExceptionError,
    );
    // A sink that drops writes: the read-back catches it.
    const deaf = {
      readRegisters: bus.readRegisters.bind(bus),
      writeRegisters: async () => undefined,
    };
    const before = await ctl.state();
    await expect(writeAndReadBack(deaf, 3, 40000 + 2 + 66 + 2 + 5, Uint16Array.of(2))).rejects.toThrow(
      /read back \[0\] after writing \[2\]/,
    );
    expect(before.mode).toBe(0);
  });
});
