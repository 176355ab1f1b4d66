// SunSpec model 713: DER Storage Capacity. Offsets count from the model's ID register.
// Written for Wattproof from the SunSpec Information Model; test/sunspec-reference.test.ts checks
// it point by point against the official definition.
import { pt, type SunSpecModelDef } from '../types.js';

export const model713: SunSpecModelDef = {
  id: 713,
  name: 'DERStorageCapacity',
  label: 'DER Storage Capacity',
  points: [
    pt(0, 'ID', 'uint16', { mandatory: true, static: true, label: 'Model ID' }),
    pt(1, 'L', 'uint16', { mandatory: true, static: true, label: 'Model Length' }),
    pt(2, 'WHRtg', 'uint16', { sf: 'WH_SF', units: 'WH', label: 'Energy Rating' }),
    pt(3, 'WHAvail', 'uint16', { sf: 'WH_SF', units: 'WH', label: 'Energy Available' }),
    pt(4, 'SoC', 'uint16', { sf: 'Pct_SF', units: 'Pct', label: 'State of Charge' }),
    pt(5, 'SoH', 'uint16', { sf: 'Pct_SF', units: 'Pct', label: 'State of Health' }),
    pt(6, 'Sta', 'enum16', { label: 'Status' }),
    pt(7, 'WH_SF', 'sunssf', { static: true, label: 'Energy Scale Factor' }),
    pt(8, 'Pct_SF', 'sunssf', { static: true, label: 'Percent Scale Factor' }),
  ],
};
