// A simulated home on a Modbus bus: one Home model, the devices that show it, and the servers
// (TCP, RTU, or both) that answer for them. This is what `wattproof-sim` runs and what tests start.
import { ManualClock, ScaledClock, type SimClock } from './clock.js';
import { createDevice, DEVICE_KINDS, type DeviceKind, isDeviceKind, type SimDevice } from './devices.js';
import { SimUnits } from './modbus-handler.js';
import type { GasUseOptions } from './physics/gas.js';
import type { HeatCircuitOptions } from './physics/heat.js';
import { Home, type HomeOptions } from './physics/home.js';
import { SimRtuServer } from './rtu-server.js';
import { attachStorageControls, type StorageDevice } from './storage-control.js';
import { SimTcpServer } from './tcp-server.js';

export interface UnitSpec {
  unit: number;
  kind: DeviceKind;
  /** SunSpec base address (40000, 0 or 50000); ignored for non-SunSpec devices. */
  base?: number;
}

export interface SimulatorOptions {
  units: readonly UnitSpec[];
  /** Serve Modbus TCP; port 0 picks a free one. */
  tcp?: { host?: string; port: number; unknownUnit?: 'gateway-exception' | 'silence' };
  /** Serve Modbus RTU on a serial device or pseudo-terminal. */
  rtu?: { path: string; baudRate?: number; parity?: 'none' | 'even' | 'odd' };
  /** Time factor for real-time runs (default 1). Ignored when `clock` is given. */
  speed?: number;
  /** Drive time yourself (tests); default: real time × speed from `home.startMs`. */
  clock?: SimClock;
  home?: HomeOptions;
  /** A heat meter's circuit (e.g. feedInPeakW for a home that also feeds heat in). */
  heat?: HeatCircuitOptions;
  /** A gas meter's household or producer (e.g. feedInDm3PerHour). */
  gas?: GasUseOptions;
}

/**
 * Parses `3=sunspec-battery` or `3=sunspec-battery@50000` (a `--unit` argument).
 * Throws an error that names the argument and the accepted forms.
 */
export function parseUnitSpec(arg: string): UnitSpec {
  const m = /^(\d{1,3})=([a-z0-9-]+)(?:@(\d{1,5}))?$/.exec(arg.trim());
  const kind = m?.[2] ?? '';
  if (!m || !isDeviceKind(kind)) {
    throw new Error(
      `--unit ${arg}: expected <id>=<kind>[@<sunspec base>], e.g. 1=sunspec-inverter or 3=sunspec-battery@50000; ` +
        `kinds: ${DEVICE_KINDS.join(', ')}`,
    );
  }
  const unit = Number(m[1]);
  if (unit < 1 || unit > 247) throw new Error(`--unit ${arg}: the unit id must be 1..247`);
  const spec: UnitSpec = { unit, kind };
  if (m[3] !== undefined) {
    const base = Number(m[3]);
    if (![0, 40000, 50000].includes(base))
      throw new Error(`--unit ${arg}: a SunSpec base is 0, 40000 or 50000`);
    spec.base = base;
  }
  return spec;
}

export class Simulator {
  readonly home: Home;
  readonly clock: SimClock;
  readonly units = new SimUnits();
  readonly devices = new Map<number, SimDevice>();
  private tcpServer: SimTcpServer | undefined;
  private rtuServer: SimRtuServer | undefined;

  private constructor(options: SimulatorOptions) {
    const startMs = options.home?.startMs ?? Date.now();
    this.clock = options.clock ?? new ScaledClock(startMs, options.speed ?? 1);
    this.home = new Home({ ...options.home, startMs });
    for (const spec of options.units) {
      const device = createDevice(spec.kind, {
        home: this.home,
        clock: this.clock,
        unit: spec.unit,
        ...(spec.base !== undefined ? { base: spec.base } : {}),
        ...(options.heat !== undefined ? { heat: options.heat } : {}),
        ...(options.gas !== undefined ? { gas: options.gas } : {}),
      });
      // The battery takes setpoints through its model 124 controls (storage-control.ts).
      if (spec.kind === 'sunspec-battery')
        attachStorageControls(device as SimDevice & StorageDevice, this.home, this.clock);
      this.units.add(spec.unit, device);
      this.devices.set(spec.unit, device);
    }
  }

  /** Builds the home and its devices and opens the servers asked for. */
  static async start(options: SimulatorOptions): Promise<Simulator> {
    const sim = new Simulator(options);
    try {
      if (options.tcp) {
        sim.tcpServer = new SimTcpServer(sim.units, options.tcp);
        await sim.tcpServer.listen();
      }
      if (options.rtu) {
        sim.rtuServer = new SimRtuServer(sim.units, options.rtu);
        await sim.rtuServer.open();
      }
    } catch (err) {
      await sim.close();
      throw err;
    }
    return sim;
  }

  /** A simulator with a clock that moves only when the test moves it. */
  static manualClock(startMs: number): ManualClock {
    return new ManualClock(startMs);
  }

  get tcpPort(): number | undefined {
    return this.tcpServer?.port;
  }

  get tcp(): SimTcpServer | undefined {
    return this.tcpServer;
  }

  get rtu(): SimRtuServer | undefined {
    return this.rtuServer;
  }

  device(unit: number): SimDevice {
    const d = this.devices.get(unit);
    if (!d) throw new RangeError(`no simulated device at unit ${unit}`);
    return d;
  }

  /** Requests that reached `unit` (all units when omitted), optionally of one function code. */
  requests(unit?: number, fn?: number): number {
    return this.units.log.count(unit, fn);
  }

  resetRequestCount(): void {
    this.units.log.reset();
  }

  async close(): Promise<void> {
    await this.tcpServer?.close();
    await this.rtuServer?.close();
  }
}
