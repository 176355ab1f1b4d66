// SunSpec model 120: Nameplate. Offsets count from the model's ID register.
// Written for Wattproof from the SunSpec Information Model; test/sunspec-reference.test.ts checks
// it point by point against the official definition.
import { pt, type SunSpecModelDef } from '../types.js';

export const model120: SunSpecModelDef = {
  id: 120,
  name: 'nameplate',
  label: 'Nameplate',
  points: [
    pt(0, 'ID', 'uint16', { mandatory: true, static: true, label: 'Model ID' }),
    pt(1, 'L', 'uint16', { mandatory: true, static: true, label: 'Model Length' }),
    pt(2, 'DERTyp', 'enum16', { mandatory: true, label: 'DERTyp' }),
    pt(3, 'WRtg', 'uint16', { sf: 'WRtg_SF', units: 'W', mandatory: true, label: 'WRtg' }),
    pt(4, 'WRtg_SF', 'sunssf', { mandatory: true, label: 'WRtg_SF' }),
    pt(5, 'VARtg', 'uint16', { sf: 'VARtg_SF', units: 'VA', mandatory: true, label: 'VARtg' }),
    pt(6, 'VARtg_SF', 'sunssf', { mandatory: true, label: 'VARtg_SF' }),
    pt(7, 'VArRtgQ1', 'int16', { sf: 'VArRtg_SF', units: 'var', mandatory: true, label: 'VArRtgQ1' }),
    pt(8, 'VArRtgQ2', 'int16', { sf: 'VArRtg_SF', units: 'var', mandatory: true, label: 'VArRtgQ2' }),
    pt(9, 'VArRtgQ3', 'int16', { sf: 'VArRtg_SF', units: 'var', mandatory: true, label: 'VArRtgQ3' }),
    pt(10, 'VArRtgQ4', 'int16', { sf: 'VArRtg_SF', units: 'var', mandatory: true, label: 'VArRtgQ4' }),
    pt(11, 'VArRtg_SF', 'sunssf', { mandatory: true, label: 'VArRtg_SF' }),
    pt(12, 'ARtg', 'uint16', { sf: 'ARtg_SF', units: 'A', mandatory: true, label: 'ARtg' }),
    pt(13, 'ARtg_SF', 'sunssf', { mandatory: true, label: 'ARtg_SF' }),
    pt(14, 'PFRtgQ1', 'int16', { sf: 'PFRtg_SF', units: 'cos()', mandatory: true, label: 'PFRtgQ1' }),
    pt(15, 'PFRtgQ2', 'int16', { sf: 'PFRtg_SF', units: 'cos()', mandatory: true, label: 'PFRtgQ2' }),
    pt(16, 'PFRtgQ3', 'int16', { sf: 'PFRtg_SF', units: 'cos()', mandatory: true, label: 'PFRtgQ3' }),
    pt(17, 'PFRtgQ4', 'int16', { sf: 'PFRtg_SF', units: 'cos()', mandatory: true, label: 'PFRtgQ4' }),
    pt(18, 'PFRtg_SF', 'sunssf', { mandatory: true, label: 'PFRtg_SF' }),
    pt(19, 'WHRtg', 'uint16', { sf: 'WHRtg_SF', units: 'Wh', label: 'WHRtg' }),
    pt(20, 'WHRtg_SF', 'sunssf', { label: 'WHRtg_SF' }),
    pt(21, 'AhrRtg', 'uint16', { sf: 'AhrRtg_SF', units: 'AH', label: 'AhrRtg' }),
    pt(22, 'AhrRtg_SF', 'sunssf', { label: 'AhrRtg_SF' }),
    pt(23, 'MaxChaRte', 'uint16', { sf: 'MaxChaRte_SF', units: 'W', label: 'MaxChaRte' }),
    pt(24, 'MaxChaRte_SF', 'sunssf', { label: 'MaxChaRte_SF' }),
    pt(25, 'MaxDisChaRte', 'uint16', { sf: 'MaxDisChaRte_SF', units: 'W', label: 'MaxDisChaRte' }),
    pt(26, 'MaxDisChaRte_SF', 'sunssf', { label: 'MaxDisChaRte_SF' }),
    pt(27, 'Pad', 'pad', { label: 'Pad' }),
  ],
};
