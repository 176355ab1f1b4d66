// The seam between what reads registers (a Modbus bus, a test double) and what makes sense of
// them (codec, SunSpec discovery, planner, profiles). Transports implement it; everything above
// depends only on this.

/** Modbus function codes for reading registers: 3 = holding registers, 4 = input registers. */
export type ReadFunction = 3 | 4;

export interface RegisterSource {
  /**
   * Reads `count` (1..125) consecutive 16-bit registers starting at `address` from device `unit`.
   * Rejects with ModbusExceptionError when the device answers with an exception, and with
   * ModbusTimeoutError when it does not answer in time.
   */
  readRegisters(unit: number, fn: ReadFunction, address: number, count: number): Promise<Uint16Array>;
}

export interface RegisterSink {
  /** Writes consecutive holding registers (function 16). Same errors as reading. */
  writeRegisters(unit: number, address: number, values: Uint16Array): Promise<void>;
}

/** The device answered with a Modbus exception (1 illegal function, 2 illegal address, ...). */
export class ModbusExceptionError extends Error {
  constructor(
    readonly code: number,
    message = `Modbus exception ${code}`,
  ) {
    super(message);
    this.name = 'ModbusExceptionError';
  }
}

/** The device did not answer within the request timeout (or the frame was corrupt). */
export class ModbusTimeoutError extends Error {
  constructor(message = 'Modbus request timed out') {
    super(message);
    this.name = 'ModbusTimeoutError';
  }
}
