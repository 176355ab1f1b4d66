// Turns what modbus-serial reports into the seam's errors. modbus-serial's own error objects are
// not `Error` instances (plain constructor functions), an exception carries its code in
// `modbusCode`, a timeout is recognised by `errno === 'ETIMEDOUT'`, and a bad CRC, a short frame
// or a reply from the wrong unit arrive as plain `Error`s told apart only by their message.
import { ModbusExceptionError, ModbusTimeoutError } from '../register-source.js';

/** A reply arrived but was unusable (bad CRC, wrong length, wrong unit or function). Retried like a timeout. */
export class ModbusFrameError extends ModbusTimeoutError {
  constructor(message: string) {
    super(message);
    this.name = 'ModbusFrameError';
  }
}

/** The link itself is down: the TCP connection was refused or dropped, the serial port would not open. */
export class ModbusConnectionError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ModbusConnectionError';
  }
}

/**
 * The bus refused to send: the device failed recently and is backed off until `retryAt` (UTC ms).
 * A subclass of the timeout error, so callers that treat "no answer" as "try the next" keep working.
 */
export class ModbusBackedOffError extends ModbusTimeoutError {
  constructor(
    message: string,
    readonly retryAt: number,
  ) {
    super(message);
    this.name = 'ModbusBackedOffError';
  }
}

function field(err: unknown, key: string): unknown {
  return typeof err === 'object' && err !== null ? (err as Record<string, unknown>)[key] : undefined;
}

/** Maps an error from a modbus-serial callback to ModbusExceptionError / ModbusTimeoutError / ... */
export function fromModbusSerialError(err: unknown, what: string): Error {
  const code = field(err, 'modbusCode');
  const message = String(field(err, 'message') ?? err);
  if (typeof code === 'number') return new ModbusExceptionError(code, `${what}: ${message}`);
  if (field(err, 'errno') === 'ETIMEDOUT' || field(err, 'name') === 'TransactionTimedOutError') {
    return new ModbusTimeoutError(`${what}: no answer in time`);
  }
  if (/^(CRC error|Data length error|Unexpected data error)/.test(message)) {
    return new ModbusFrameError(`${what}: ${message}`);
  }
  if (field(err, 'name') === 'PortNotOpenError') {
    return new ModbusConnectionError(`${what}: the connection is not open`);
  }
  return new ModbusConnectionError(`${what}: ${message}`, { cause: err });
}

/**
 * True for errors worth another attempt: no answer, a garbled one, or a dropped connection (the
 * transport reconnects). Exceptions are answers and are not retried.
 */
export function isRetryable(err: unknown): boolean {
  if (err instanceof ModbusBackedOffError) return false;
  return err instanceof ModbusTimeoutError || err instanceof ModbusConnectionError;
}
