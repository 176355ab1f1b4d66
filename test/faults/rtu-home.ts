// A home whose SunSpec grid meter (models 1 + 203, unit 1) answers Modbus RTU on one end of a socat
// pseudo-terminal pair, for the faults only RTU has (a corrupted CRC) and a counter reset: the
// meter's energy counters start again from zero at a chosen moment (a meter swapped or reset).
// Counters are pure functions of accelerated time (import 2 Wh, export 1 Wh per virtual second)
// and every value served is recorded, so a test can check that each reading in a proof is real.
import { FaultSwitches } from '../../device-drivers/sim/faults.js';
import { SimUnits } from '../../device-drivers/sim/modbus-handler.js';
import { RegisterBank } from '../../device-drivers/sim/register-bank.js';
import { SimRtuServer } from '../../device-drivers/sim/rtu-server.js';
import { SunSpecImage } from '../../device-drivers/sunspec/image.js';
import { type PtyPair, startPtyPair } from '../support/socat.js';

const BASE = 40000;

export interface Reading {
  importWh: number;
  exportWh: number;
  /** Served after the counter reset. */
  afterReset: boolean;
}

export interface RtuHome {
  /** The pty the gateway opens. */
  path: string;
  faults: FaultSwitches;
  /** Every reading served, in order. */
  served: Reading[];
  /** The counters start again from zero now; returns the virtual time of the reset. */
  resetCounters(): number;
  close(): Promise<void>;
}

export async function startRtuHome(opts: { scale: number; origin: number }): Promise<RtuHome> {
  const virtualNow = () => Math.floor(opts.origin + (Date.now() - opts.origin) * opts.scale);
  const seconds = (v: number) => Math.floor((v - opts.origin) / 1000);
  let resetAt: number | undefined;
  const counters = (v: number): Reading => {
    if (resetAt === undefined)
      return { importWh: 1_000_000 + 2 * seconds(v), exportWh: 500_000 + seconds(v), afterReset: false };
    const s = Math.max(0, seconds(v) - seconds(resetAt));
    return { importWh: 2 * s, exportWh: s, afterReset: true };
  };
  const served: Reading[] = [];
  const faults = new FaultSwitches();
  const meter = new SunSpecImage(BASE, [{ id: 1 }, { id: 203 }]);
  meter.set('1.Mn', 'Wattproof Sim');
  meter.set('1.Md', 'Grid Meter 203');
  meter.set('1.SN', 'GRID-RTU-0001');
  meter.set('203.TotWh_SF', 0);
  meter.set('203.W_SF', 0);
  const bank = new RegisterBank();
  const units = new SimUnits();
  units.add(1, {
    bank,
    faults,
    refresh() {
      const c = counters(virtualNow());
      meter.set('203.TotWhImp', c.importWh);
      meter.set('203.TotWhExp', c.exportWh);
      meter.set('203.W', 3600);
      bank.set('holding', BASE, meter.registers);
      served.push(c);
    },
  });
  let pty: PtyPair | undefined;
  let server: SimRtuServer | undefined;
  try {
    pty = await startPtyPair();
    server = new SimRtuServer(units, { path: pty.device, baudRate: 115200 });
    await server.open();
  } catch (err) {
    await pty?.close();
    throw err;
  }
  const opened = { pty, server };
  return {
    path: opened.pty.client,
    faults,
    served,
    resetCounters() {
      resetAt = virtualNow();
      return resetAt;
    },
    async close() {
      await opened.server.close();
      await opened.pty.close();
    },
  };
}
