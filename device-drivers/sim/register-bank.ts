// The registers one simulated device exposes: holding registers (functions 3, 6, 16) and input
// registers (function 4). Only defined registers can be read: a request touching any undefined
// one gets exception 2 (illegal data address), as a real device answers.

export type RegisterSpace = 'holding' | 'input';

/** Thrown by the bank; the server turns it into a Modbus exception response. */
export class RegisterBankError extends Error {
  constructor(
    readonly exceptionCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'RegisterBankError';
  }
}

export type WriteHandler = (address: number, values: Uint16Array) => void;

export class RegisterBank {
  private readonly spaces: Record<RegisterSpace, Map<number, number>> = {
    holding: new Map(),
    input: new Map(),
  };
  private readonly writable: Array<{ start: number; end: number; onWrite: WriteHandler }> = [];

  /** Defines (or overwrites) registers starting at `address`. */
  set(space: RegisterSpace, address: number, values: ArrayLike<number>): void {
    const regs = this.spaces[space];
    for (let i = 0; i < values.length; i++) regs.set(address + i, (values[i] ?? 0) & 0xffff);
  }

  /**
   * Lets function 6/16 write holding registers [start, start+count); `onWrite` sees the new values.
   * Where grants overlap, the latest one takes the write.
   */
  allowWrites(start: number, count: number, onWrite: WriteHandler = () => undefined): void {
    this.writable.push({ start, end: start + count, onWrite });
  }

  has(space: RegisterSpace, address: number): boolean {
    return this.spaces[space].has(address);
  }

  read(space: RegisterSpace, address: number, count: number): Uint16Array {
    const regs = this.spaces[space];
    const out = new Uint16Array(count);
    for (let i = 0; i < count; i++) {
      const v = regs.get(address + i);
      if (v === undefined) {
        throw new RegisterBankError(2, `${space} register ${address + i} is not defined`);
      }
      out[i] = v;
    }
    return out;
  }

  write(address: number, values: Uint16Array): void {
    const end = address + values.length;
    // The latest grant wins: a control layer added over a device's own grants takes its writes.
    const range = this.writable.findLast((w) => address >= w.start && end <= w.end);
    if (!range) throw new RegisterBankError(2, `holding registers ${address}..${end - 1} are not writable`);
    this.set('holding', address, values);
    range.onWrite(address, values);
  }

  /** Number of defined registers in a space (for tests and the help text). */
  size(space: RegisterSpace): number {
    return this.spaces[space].size;
  }
}
