// A small simulated home for the agent's tests, served over real Modbus TCP by the device
// drivers' simulator server: a SunSpec grid meter (models 1 + 203) at unit 1 and a SunSpec PV
// inverter (1 + 103) at unit 2. Their energy counters are pure functions of accelerated time —
// the same timeline the agent runs on (origin + (now − origin) × scale) — and every value served
// is recorded, so a test can check that each reading in a proof is one the devices really gave.
import { FaultSwitches } from '../../device-drivers/sim/faults.js';
import { SimUnits } from '../../device-drivers/sim/modbus-handler.js';
import { RegisterBank } from '../../device-drivers/sim/register-bank.js';
import { SimTcpServer } from '../../device-drivers/sim/tcp-server.js';
import { SunSpecImage } from '../../device-drivers/sunspec/image.js';

export interface SimHome {
  port: number;
  units: SimUnits;
  /** Counter values served, per device name: `${importWh}/${exportWh}`. */
  served: Map<string, Set<string>>;
  counters(device: 'grid' | 'pv', virtualMs: number): { importWh: number; exportWh: number };
  faults(device: 'grid' | 'pv'): FaultSwitches;
  close(): Promise<void>;
}

const BASE = 40000;

export async function startSimHome(opts: { scale: number; origin: number }): Promise<SimHome> {
  const virtualNow = () => Math.floor(opts.origin + (Date.now() - opts.origin) * opts.scale);
  const seconds = (v: number) => Math.floor((v - opts.origin) / 1000);
  // Grid: imports 2 Wh and exports 1 Wh per second of (virtual) time; PV makes 3 Wh per second.
  const counters = (device: 'grid' | 'pv', v: number) =>
    device === 'grid'
      ? { importWh: 1_000_000 + 2 * seconds(v), exportWh: 500_000 + seconds(v) }
      : { importWh: 0, exportWh: 200_000 + 3 * seconds(v) };
  const served = new Map<string, Set<string>>([
    ['grid', new Set()],
    ['pv', new Set()],
  ]);
  const units = new SimUnits();
  const faults = { grid: new FaultSwitches(), pv: new FaultSwitches() };

  const meter = new SunSpecImage(BASE, [{ id: 1 }, { id: 203 }]);
  meter.set('1.Mn', 'Wattproof Sim');
  meter.set('1.Md', 'Grid Meter 203');
  meter.set('1.SN', 'GRID-0001');
  meter.set('203.TotWh_SF', 0);
  meter.set('203.W_SF', 0);
  const inverter = new SunSpecImage(BASE, [{ id: 1 }, { id: 103 }]);
  inverter.set('1.Mn', 'Wattproof Sim');
  inverter.set('1.Md', 'PV Inverter 103');
  inverter.set('1.SN', 'PV-0002');
  inverter.set('103.WH_SF', 0);
  inverter.set('103.W_SF', 0);

  const meterBank = new RegisterBank();
  const inverterBank = new RegisterBank();
  units.add(1, {
    bank: meterBank,
    faults: faults.grid,
    refresh() {
      const c = counters('grid', virtualNow());
      meter.set('203.TotWhImp', c.importWh);
      meter.set('203.TotWhExp', c.exportWh);
      meter.set('203.W', 7200 - 3600);
      meterBank.set('holding', BASE, meter.registers);
      served.get('grid')?.add(`${c.importWh}/${c.exportWh}`);
    },
  });
  units.add(2, {
    bank: inverterBank,
    faults: faults.pv,
    refresh() {
      const c = counters('pv', virtualNow());
      inverter.set('103.WH', c.exportWh);
      inverter.set('103.W', 10800);
      inverterBank.set('holding', BASE, inverter.registers);
      served.get('pv')?.add(`${c.importWh}/${c.exportWh}`);
    },
  });
  const server = new SimTcpServer(units, { port: 0 });
  const { port } = await server.listen();
  return {
    port,
    units,
    served,
    counters,
    faults: (d) => faults[d],
    close: () => server.close(),
  };
}
