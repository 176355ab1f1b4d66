// Fault switches of one simulated device, for tests (programmatic) and the CLI (--fault flags).
// Each switch is either on until cleared (`true`) or on for the next N requests (a number).

export type FaultSetting = boolean | number;

/** What the server does with one request. */
export type FaultAction =
  | { kind: 'answer' }
  | { kind: 'silence' }
  | { kind: 'exception'; code: number }
  | { kind: 'corrupt-crc' };

export class FaultSwitches {
  private timeoutLeft: FaultSetting = false;
  private exceptionLeft: FaultSetting = false;
  private exceptionCode = 4;
  private corruptLeft: FaultSetting = false;
  private gone = false;
  /** Extra time before every answer, ms (a slow device). */
  delayMs = 0;

  /** No answer at all (for the next `times` requests, or until cleared). */
  timeout(times: FaultSetting = true): this {
    this.timeoutLeft = times;
    return this;
  }

  /** Answer with Modbus exception `code` (4 = server device failure, 6 = busy, ...). */
  exception(code: number, times: FaultSetting = true): this {
    if (!Number.isInteger(code) || code < 1 || code > 255)
      throw new RangeError(`exception code 1..255, got ${code}`);
    this.exceptionCode = code;
    this.exceptionLeft = times;
    return this;
  }

  /** RTU only: answer with a wrong CRC (TCP has no CRC; there the switch does nothing). */
  corruptCrc(times: FaultSetting = true): this {
    this.corruptLeft = times;
    return this;
  }

  /** The device vanishes from the bus (power cut, cable pulled) until `reappear()`. */
  disappear(): this {
    this.gone = true;
    return this;
  }

  reappear(): this {
    this.gone = false;
    return this;
  }

  /** Answer every request `ms` late. */
  slow(ms: number): this {
    this.delayMs = ms;
    return this;
  }

  get absent(): boolean {
    return this.gone;
  }

  clear(): this {
    this.timeoutLeft = false;
    this.exceptionLeft = false;
    this.corruptLeft = false;
    this.gone = false;
    this.delayMs = 0;
    return this;
  }

  /** Decides the fate of one request and uses up one count of a counted switch. */
  next(): FaultAction {
    if (this.gone) return { kind: 'silence' };
    if (take(this.timeoutLeft)) {
      this.timeoutLeft = left(this.timeoutLeft);
      return { kind: 'silence' };
    }
    if (take(this.exceptionLeft)) {
      this.exceptionLeft = left(this.exceptionLeft);
      return { kind: 'exception', code: this.exceptionCode };
    }
    if (take(this.corruptLeft)) {
      this.corruptLeft = left(this.corruptLeft);
      return { kind: 'corrupt-crc' };
    }
    return { kind: 'answer' };
  }
}

function take(s: FaultSetting): boolean {
  return s === true || (typeof s === 'number' && s > 0);
}

function left(s: FaultSetting): FaultSetting {
  return typeof s === 'number' ? Math.max(0, s - 1) : s;
}
