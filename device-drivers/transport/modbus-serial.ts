// modbus-serial is CommonJS; its typings declare the client as the default export of a CJS module,
// which TypeScript's NodeNext resolution exposes as `.default` (the package sets module.exports.default
// to itself, so the same property works at run time).
import modbusSerial from 'modbus-serial';

export const ModbusClient = modbusSerial.default;
export type ModbusClient = InstanceType<typeof modbusSerial.default>;
