// SunSpec model 124: Storage. Offsets count from the model's ID register.
// Written for Wattproof from the SunSpec Information Model; test/sunspec-reference.test.ts checks
// it point by point against the official definition.
import { pt, type SunSpecModelDef } from '../types.js';

export const model124: SunSpecModelDef = {
  id: 124,
  name: 'storage_basic',
  label: 'Storage',
  points: [
    pt(0, 'ID', 'uint16', { mandatory: true, static: true, label: 'Model ID' }),
    pt(1, 'L', 'uint16', { mandatory: true, static: true, label: 'Model Length' }),
    pt(2, 'WChaMax', 'uint16', {
      sf: 'WChaMax_SF',
      units: 'W',
      mandatory: true,
      writable: true,
      label: 'WChaMax',
    }),
    pt(3, 'WChaGra', 'uint16', {
      sf: 'WChaDisChaGra_SF',
      units: '% WChaMax/sec',
      mandatory: true,
      writable: true,
      label: 'WChaGra',
    }),
    pt(4, 'WDisChaGra', 'uint16', {
      sf: 'WChaDisChaGra_SF',
      units: '% WChaMax/sec',
      mandatory: true,
      writable: true,
      label: 'WDisChaGra',
    }),
    pt(5, 'StorCtl_Mod', 'bitfield16', { mandatory: true, writable: true, label: 'StorCtl_Mod' }),
    pt(6, 'VAChaMax', 'uint16', { sf: 'VAChaMax_SF', units: 'VA', writable: true, label: 'VAChaMax' }),
    pt(7, 'MinRsvPct', 'uint16', {
      sf: 'MinRsvPct_SF',
      units: '% WChaMax',
      writable: true,
      label: 'MinRsvPct',
    }),
    pt(8, 'ChaState', 'uint16', { sf: 'ChaState_SF', units: '% AhrRtg', label: 'ChaState' }),
    pt(9, 'StorAval', 'uint16', { sf: 'StorAval_SF', units: 'AH', label: 'StorAval' }),
    pt(10, 'InBatV', 'uint16', { sf: 'InBatV_SF', units: 'V', label: 'InBatV' }),
    pt(11, 'ChaSt', 'enum16', { label: 'ChaSt' }),
    pt(12, 'OutWRte', 'int16', {
      sf: 'InOutWRte_SF',
      units: '% WDisChaMax',
      writable: true,
      label: 'OutWRte',
    }),
    pt(13, 'InWRte', 'int16', { sf: 'InOutWRte_SF', units: ' % WChaMax', writable: true, label: 'InWRte' }),
    pt(14, 'InOutWRte_WinTms', 'uint16', { units: 'Secs', writable: true, label: 'InOutWRte_WinTms' }),
    pt(15, 'InOutWRte_RvrtTms', 'uint16', { units: 'Secs', writable: true, label: 'InOutWRte_RvrtTms' }),
    pt(16, 'InOutWRte_RmpTms', 'uint16', { units: 'Secs', writable: true, label: 'InOutWRte_RmpTms' }),
    pt(17, 'ChaGriSet', 'enum16', { writable: true }),
    pt(18, 'WChaMax_SF', 'sunssf', { mandatory: true, label: 'WChaMax_SF' }),
    pt(19, 'WChaDisChaGra_SF', 'sunssf', { mandatory: true, label: 'WChaDisChaGra_SF' }),
    pt(20, 'VAChaMax_SF', 'sunssf', { label: 'VAChaMax_SF' }),
    pt(21, 'MinRsvPct_SF', 'sunssf', { label: 'MinRsvPct_SF' }),
    pt(22, 'ChaState_SF', 'sunssf', { label: 'ChaState_SF' }),
    pt(23, 'StorAval_SF', 'sunssf', { label: 'StorAval_SF' }),
    pt(24, 'InBatV_SF', 'sunssf', { label: 'InBatV_SF' }),
    pt(25, 'InOutWRte_SF', 'sunssf', { label: 'InOutWRte_SF' }),
  ],
};
