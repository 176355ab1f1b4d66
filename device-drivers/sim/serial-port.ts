// The simulator's RTU server opens its serial device (or pseudo-terminal) with node-serialport,
// the same major version modbus-serial uses on the client side.
export { SerialPort } from 'serialport';
