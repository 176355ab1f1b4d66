// SunSpec model 160: Multiple MPPT Inverter Extension Model. Offsets count from the model's ID register.
// Written for Wattproof from the SunSpec Information Model; test/sunspec-reference.test.ts checks
// it point by point against the official definition.
import { pt, type SunSpecModelDef } from '../types.js';

export const model160: SunSpecModelDef = {
  id: 160,
  name: 'mppt',
  label: 'Multiple MPPT Inverter Extension Model',
  points: [
    pt(0, 'ID', 'uint16', { mandatory: true, static: true, label: 'Model ID' }),
    pt(1, 'L', 'uint16', { mandatory: true, static: true, label: 'Model Length' }),
    pt(2, 'DCA_SF', 'sunssf', { label: 'Current Scale Factor' }),
    pt(3, 'DCV_SF', 'sunssf', { label: 'Voltage Scale Factor' }),
    pt(4, 'DCW_SF', 'sunssf', { label: 'Power Scale Factor' }),
    pt(5, 'DCWH_SF', 'sunssf', { label: 'Energy Scale Factor' }),
    pt(6, 'Evt', 'bitfield32', { label: 'Global Events' }),
    pt(8, 'N', 'count', { label: 'Number of Modules' }),
    pt(9, 'TmsPer', 'uint16', { label: 'Timestamp Period' }),
  ],
  groups: [
    {
      name: 'module',
      repeating: true,
      points: [
        pt(0, 'ID', 'uint16', { label: 'Input ID' }),
        pt(1, 'IDStr', 'string', { size: 8, label: 'Input ID String' }),
        pt(9, 'DCA', 'uint16', { sf: 'DCA_SF', units: 'A', label: 'DC Current' }),
        pt(10, 'DCV', 'uint16', { sf: 'DCV_SF', units: 'V', label: 'DC Voltage' }),
        pt(11, 'DCW', 'uint16', { sf: 'DCW_SF', units: 'W', label: 'DC Power' }),
        pt(12, 'DCWH', 'acc32', { sf: 'DCWH_SF', units: 'Wh', label: 'Lifetime Energy' }),
        pt(14, 'Tms', 'uint32', { units: 'Secs', label: 'Timestamp' }),
        pt(16, 'Tmp', 'int16', { units: 'C', label: 'Temperature' }),
        pt(17, 'DCSt', 'enum16', { label: 'Operating State' }),
        pt(18, 'DCEvt', 'bitfield32', { label: 'Module Events' }),
      ],
    },
  ],
};
