// SunSpec model 1: Common. Offsets count from the model's ID register.
// Written for Wattproof from the SunSpec Information Model; test/sunspec-reference.test.ts checks
// it point by point against the official definition.
import { pt, type SunSpecModelDef } from '../types.js';

export const model1: SunSpecModelDef = {
  id: 1,
  name: 'common',
  label: 'Common',
  points: [
    pt(0, 'ID', 'uint16', { mandatory: true, static: true, label: 'Model ID' }),
    pt(1, 'L', 'uint16', { mandatory: true, static: true, label: 'Model Length' }),
    pt(2, 'Mn', 'string', { size: 16, mandatory: true, static: true, label: 'Manufacturer' }),
    pt(18, 'Md', 'string', { size: 16, mandatory: true, static: true, label: 'Model' }),
    pt(34, 'Opt', 'string', { size: 8, static: true, label: 'Options' }),
    pt(42, 'Vr', 'string', { size: 8, static: true, label: 'Version' }),
    pt(50, 'SN', 'string', { size: 16, mandatory: true, static: true, label: 'Serial Number' }),
    pt(66, 'DA', 'uint16', { writable: true, label: 'Device Address' }),
    pt(67, 'Pad', 'pad', { static: true }),
  ],
};
