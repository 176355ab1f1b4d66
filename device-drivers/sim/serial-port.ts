// The simulator's RTU server opens its serial device (or pseudo-terminal) with node-serialport —
// the very copy modbus-serial depends on and loads, so both ends share one native binding and one
// version. It is resolved through modbus-serial because `serialport` is not (yet) a direct
// dependency in package.json; once it is, this becomes `export { SerialPort } from 'serialport'`.
import { createRequire } from 'node:module';
import type { SerialPort as SerialPortClass } from 'serialport';

const fromModbusSerial = createRequire(createRequire(import.meta.url).resolve('modbus-serial'));

export const SerialPort: typeof SerialPortClass = (
  fromModbusSerial('serialport') as { SerialPort: typeof SerialPortClass }
).SerialPort;
export type SerialPort = SerialPortClass;
