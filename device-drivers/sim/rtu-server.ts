// Modbus RTU server of the simulator on a serial device or a pseudo-terminal (node-serialport).
// Frames are cut by their known length for functions 3, 4, 6 and 16, and by line silence for any
// other function; a frame with a bad CRC is skipped byte by byte until the stream is in step again.

import { crc16, withCrc } from './crc16.js';
import type { SimUnits } from './modbus-handler.js';
import { SerialPort } from './serial-port.js';

export interface SimRtuServerOptions {
  path: string;
  baudRate?: number;
  parity?: 'none' | 'even' | 'odd';
  /** Silence after which a partial frame is dropped, ms (default 50: generous for a pty). */
  frameSilenceMs?: number;
}

/** Length of the request frame at the start of `buf`, null when its function is not length-coded, undefined when more bytes are needed. */
function requestLength(buf: Buffer): number | null | undefined {
  const fn = buf[1];
  if (fn === undefined) return undefined;
  if (fn === 3 || fn === 4 || fn === 6) return 8;
  if (fn === 16) {
    const bytes = buf[6];
    return bytes === undefined ? undefined : 9 + bytes;
  }
  return null;
}

function crcOk(frame: Buffer): boolean {
  return frame.length >= 4 && frame.readUInt16LE(frame.length - 2) === crc16(frame.subarray(0, -2));
}

export class SimRtuServer {
  private port: SerialPort | undefined;
  private buf = Buffer.alloc(0);
  private silence: NodeJS.Timeout | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Frames dropped for a bad CRC (a line fault seen from the device's side). */
  badFrames = 0;

  constructor(
    private readonly units: SimUnits,
    private readonly options: SimRtuServerOptions,
  ) {}

  async open(): Promise<void> {
    const port = new SerialPort({
      path: this.options.path,
      baudRate: this.options.baudRate ?? 9600,
      parity: this.options.parity ?? 'none',
      autoOpen: false,
    });
    await new Promise<void>((resolve, reject) =>
      port.open((err) =>
        err ? reject(new Error(`cannot open ${this.options.path}: ${err.message}`)) : resolve(),
      ),
    );
    port.on('data', (chunk: Buffer) => this.receive(chunk));
    port.on('error', () => undefined);
    this.port = port;
  }

  async close(): Promise<void> {
    clearTimeout(this.silence);
    for (const t of this.timers) clearTimeout(t);
    const port = this.port;
    this.port = undefined;
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
  }

  private receive(chunk: Buffer): void {
    this.buf = Buffer.concat([this.buf, chunk]);
    clearTimeout(this.silence);
    this.cut();
    if (this.buf.length > 0) {
      this.silence = setTimeout(() => this.onSilence(), this.options.frameSilenceMs ?? 50);
    }
  }

  private cut(): void {
    while (this.buf.length >= 4) {
      const len = requestLength(this.buf);
      if (len === null || len === undefined || this.buf.length < len) return;
      const frame = this.buf.subarray(0, len);
      if (crcOk(frame)) {
        this.buf = this.buf.subarray(len);
        this.process(Buffer.from(frame));
      } else {
        this.badFrames++;
        this.buf = this.buf.subarray(1);
      }
    }
  }

  private onSilence(): void {
    const frame = this.buf;
    this.buf = Buffer.alloc(0);
    if (requestLength(frame) === null && crcOk(frame)) this.process(Buffer.from(frame));
  }

  private process(frame: Buffer): void {
    const unit = frame[0] ?? 0;
    const pdu = frame.subarray(1, -2);
    if (unit === 0) {
      // Broadcast: every device acts on a write, none answers.
      for (const u of this.units.units()) this.units.handle(u, pdu);
      return;
    }
    const decision = this.units.handle(unit, pdu);
    // An RTU device that does not exist is simply silent: other devices may share the line.
    if (decision.kind !== 'reply') return;
    const out = withCrc(Buffer.concat([Buffer.of(unit), decision.pdu]));
    if (decision.corruptCrc) out.writeUInt16LE(out.readUInt16LE(out.length - 2) ^ 0xa5a5, out.length - 2);
    const send = () => this.port?.write(out);
    if (decision.delayMs <= 0) {
      send();
      return;
    }
    const t = setTimeout(() => {
      this.timers.delete(t);
      send();
    }, decision.delayMs);
    this.timers.add(t);
  }
}
