// The simulated battery's storage controls (SunSpec model 124) and its AC meter. A gateway writes
// a setpoint through the standard points; the Home's battery then follows it within its limits:
//   StorCtl_Mod bit 0 (CHARGE)    → charge at InWRte  % of WChaMax
//   StorCtl_Mod bit 1 (DISCHARGE) → discharge at OutWRte % of WChaMax (both bits: the difference)
//   StorCtl_Mod 0                 → back to self-consumption
//   InOutWRte_RvrtTms > 0         → the device itself reverts to self-consumption that many
//                                   seconds after the last control write (a fail-safe if the
//                                   gateway goes away mid-dispatch).
// Model 124 has no WDisChaMax, so WChaMax is the base of both rates (as many devices do). The
// rates get InOutWRte_SF = −2 here: 0.01 % steps, 0.5 W on a 5 kW battery.
import { SunSpecImage } from '../sunspec/image.js';
import type { SimClock } from './clock.js';
import { FaultSwitches } from './faults.js';
import type { ServedDevice } from './modbus-handler.js';
import type { Home } from './physics/home.js';
import { RegisterBank } from './register-bank.js';

export const STOR_CTL_CHARGE = 1;
export const STOR_CTL_DISCHARGE = 2;

/** A SunSpec device carrying model 124 (the simulator's sunspec-battery). */
export interface StorageDevice extends ServedDevice {
  readonly bank: RegisterBank;
  readonly image: SunSpecImage;
  readonly base: number;
  refresh?(): void;
}

/** The setpoint (W, + discharge, − charge) model 124's controls ask for, or null for none. */
export function setpointFromControls(c: {
  mode: number;
  outPct: number;
  inPct: number;
  wChaMax: number;
}): number | null {
  const charge = (c.mode & STOR_CTL_CHARGE) !== 0;
  const discharge = (c.mode & STOR_CTL_DISCHARGE) !== 0;
  if (!charge && !discharge) return null;
  const pct = (discharge ? c.outPct : 0) - (charge ? c.inPct : 0);
  return Math.round((pct * c.wChaMax) / 100);
}

const num = (v: unknown) => (typeof v === 'number' ? v : 0);

/**
 * Makes model 124's control points of `device` writable and has the Home's battery follow them.
 * Returns what a test may want to look at.
 */
export function attachStorageControls(device: StorageDevice, home: Home, clock: SimClock) {
  const img = device.image;
  img.set('124.InOutWRte_SF', -2);
  for (const name of ['124.OutWRte', '124.InWRte', '124.InOutWRte_WinTms', '124.InOutWRte_RvrtTms']) {
    img.set(name, 0);
  }
  img.set('124.InOutWRte_RmpTms', 0);
  let revertAt: number | null = null;
  const apply = () => {
    const setpoint = setpointFromControls({
      mode: num(img.get('124.StorCtl_Mod')),
      outPct: num(img.get('124.OutWRte')),
      inPct: num(img.get('124.InWRte')),
      wChaMax: num(img.get('124.WChaMax')),
    });
    home.setBatterySetpoint(setpoint);
    const rvrt = num(img.get('124.InOutWRte_RvrtTms'));
    revertAt = setpoint !== null && rvrt > 0 ? clock.now() + rvrt * 1000 : null;
  };
  const onWrite = (address: number, values: Uint16Array) => {
    img.registers.set(values, address - device.base);
    apply();
  };
  const mode = img.point('124.StorCtl_Mod');
  device.bank.allowWrites(mode.address, mode.size, onWrite);
  // OutWRte, InWRte and the three timers are adjacent: one write sets them all.
  const first = img.point('124.OutWRte');
  const last = img.point('124.InOutWRte_RmpTms');
  device.bank.allowWrites(first.address, last.address + last.size - first.address, onWrite);
  const inner = device.refresh?.bind(device);
  device.refresh = () => {
    if (revertAt !== null && clock.now() >= revertAt) {
      home.advanceTo(revertAt);
      img.set('124.StorCtl_Mod', 0);
      home.setBatterySetpoint(null);
      revertAt = null;
    }
    inner?.();
  };
  return {
    get revertAt() {
      return revertAt;
    },
  };
}

/**
 * The battery's own AC meter (SunSpec models 1 and 203) at its terminals: what the battery put
 * out (discharge) counts as export, what it took in (charge) as import; W > 0 while charging
 * (import), as a meter reports. Its proofs measure a flexibility contract's delivered response.
 */
export class BatteryAcMeter implements ServedDevice {
  readonly bank = new RegisterBank();
  readonly faults = new FaultSwitches();
  readonly image: SunSpecImage;
  private readonly startImportWh = 100_000;
  private readonly startExportWh = 200_000;
  private readonly baseImportWh: number;
  private readonly baseExportWh: number;

  constructor(
    private readonly home: Home,
    private readonly clock: SimClock,
    unit: number,
    readonly base = 40000,
  ) {
    this.image = new SunSpecImage(base, [{ id: 1 }, { id: 203 }]);
    const img = this.image;
    img.set('1.Mn', 'Wattproof Sim');
    img.set('1.Md', 'SimBattery AC meter');
    img.set('1.SN', `SIMBATM-${String(home.seed).padStart(4, '0')}-${String(unit).padStart(3, '0')}`);
    img.set('1.DA', unit);
    img.set('203.W_SF', 0);
    img.set('203.TotWh_SF', 0);
    this.baseImportWh = home.energy.batteryChargeWh;
    this.baseExportWh = home.energy.batteryDischargeWh;
    this.refresh();
  }

  refresh(): void {
    this.home.advanceTo(this.clock.now());
    const e = this.home.energy;
    this.image.set('203.W', -this.home.power.batteryW);
    this.image.set('203.TotWhImp', Math.floor(this.startImportWh + e.batteryChargeWh - this.baseImportWh));
    this.image.set('203.TotWhExp', Math.floor(this.startExportWh + e.batteryDischargeWh - this.baseExportWh));
    this.bank.set('holding', this.base, this.image.registers);
  }
}
