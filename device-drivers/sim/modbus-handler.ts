// The transport-independent half of the simulator's Modbus server: one request PDU for one unit
// in, one decision out (answer with this PDU, answer late, answer garbled, or stay silent). The
// TCP and RTU servers only frame bytes around it.
import type { FaultSwitches } from './faults.js';
import { type RegisterBank, RegisterBankError } from './register-bank.js';

export interface ServedDevice {
  readonly bank: RegisterBank;
  readonly faults: FaultSwitches;
  /** Brings the registers up to the model's current time; called before every request. */
  refresh?(): void;
}

export type Decision =
  | { kind: 'reply'; pdu: Buffer; corruptCrc: boolean; delayMs: number }
  | { kind: 'silence' }
  | { kind: 'no-such-unit' };

/** Requests that reached each served unit, by function code (tests count the planner's requests). */
export class RequestLog {
  private readonly counts = new Map<number, Map<number, number>>();

  record(unit: number, fn: number): void {
    let byFn = this.counts.get(unit);
    if (!byFn) {
      byFn = new Map();
      this.counts.set(unit, byFn);
    }
    byFn.set(fn, (byFn.get(fn) ?? 0) + 1);
  }

  /** Requests to `unit` (all units when omitted), optionally of one function code only. */
  count(unit?: number, fn?: number): number {
    let total = 0;
    for (const [u, byFn] of this.counts) {
      if (unit !== undefined && u !== unit) continue;
      for (const [f, n] of byFn) if (fn === undefined || f === fn) total += n;
    }
    return total;
  }

  reset(): void {
    this.counts.clear();
  }
}

export function exceptionPdu(fn: number, code: number): Buffer {
  return Buffer.from([(fn | 0x80) & 0xff, code & 0xff]);
}

export class SimUnits {
  private readonly devices = new Map<number, ServedDevice>();
  readonly log = new RequestLog();

  add(unit: number, device: ServedDevice): void {
    if (!Number.isInteger(unit) || unit < 1 || unit > 247) {
      throw new RangeError(`unit id must be 1..247, got ${unit}`);
    }
    if (this.devices.has(unit)) throw new Error(`unit ${unit} is already taken`);
    this.devices.set(unit, device);
  }

  get(unit: number): ServedDevice | undefined {
    return this.devices.get(unit);
  }

  units(): number[] {
    return [...this.devices.keys()].sort((a, b) => a - b);
  }

  handle(unit: number, pdu: Buffer): Decision {
    const device = this.devices.get(unit);
    if (!device) return { kind: 'no-such-unit' };
    const fn = pdu[0] ?? 0;
    this.log.record(unit, fn);
    const fault = device.faults.next();
    if (fault.kind === 'silence') return { kind: 'silence' };
    const delayMs = device.faults.delayMs;
    if (fault.kind === 'exception') {
      return { kind: 'reply', pdu: exceptionPdu(fn, fault.code), corruptCrc: false, delayMs };
    }
    device.refresh?.();
    return {
      kind: 'reply',
      pdu: answer(device.bank, pdu),
      corruptCrc: fault.kind === 'corrupt-crc',
      delayMs,
    };
  }
}

/** The normal answer of a device to a request PDU: data, echo, or an exception PDU. */
export function answer(bank: RegisterBank, pdu: Buffer): Buffer {
  const fn = pdu[0] ?? 0;
  try {
    switch (fn) {
      case 3:
      case 4: {
        if (pdu.length !== 5) return exceptionPdu(fn, 3);
        const address = pdu.readUInt16BE(1);
        const count = pdu.readUInt16BE(3);
        if (count < 1 || count > 125) return exceptionPdu(fn, 3);
        if (address + count > 0x10000) return exceptionPdu(fn, 2);
        const regs = bank.read(fn === 3 ? 'holding' : 'input', address, count);
        const out = Buffer.alloc(2 + 2 * count);
        out[0] = fn;
        out[1] = 2 * count;
        for (let i = 0; i < count; i++) out.writeUInt16BE(regs[i] ?? 0, 2 + 2 * i);
        return out;
      }
      case 6: {
        if (pdu.length !== 5) return exceptionPdu(fn, 3);
        bank.write(pdu.readUInt16BE(1), Uint16Array.of(pdu.readUInt16BE(3)));
        return Buffer.from(pdu);
      }
      case 16: {
        if (pdu.length < 6) return exceptionPdu(fn, 3);
        const address = pdu.readUInt16BE(1);
        const count = pdu.readUInt16BE(3);
        const bytes = pdu[5] ?? 0;
        if (count < 1 || count > 123 || bytes !== 2 * count || pdu.length !== 6 + bytes) {
          return exceptionPdu(fn, 3);
        }
        const values = new Uint16Array(count);
        for (let i = 0; i < count; i++) values[i] = pdu.readUInt16BE(6 + 2 * i);
        bank.write(address, values);
        return pdu.subarray(0, 5);
      }
      default:
        return exceptionPdu(fn, 1);
    }
  } catch (err) {
    if (err instanceof RegisterBankError) return exceptionPdu(fn, err.exceptionCode);
    return exceptionPdu(fn, 4);
  }
}
