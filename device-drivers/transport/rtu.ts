// Modbus RTU over a serial line (an RS-485 adapter, or a pseudo-terminal in tests) on
// modbus-serial's buffered RTU port.

import { ModbusConnectionError } from './errors.js';
import { ModbusClient } from './modbus-serial.js';
import { ModbusSerialTransport, type TransportTiming } from './transport.js';

export type Parity = 'none' | 'even' | 'odd';

export interface RtuTransportOptions extends TransportTiming {
  path: string;
  baudRate?: number;
  parity?: Parity;
  dataBits?: 7 | 8;
  stopBits?: 1 | 2;
}

export class ModbusRtuTransport extends ModbusSerialTransport {
  readonly kind = 'rtu';
  readonly label: string;
  override readonly minGapMs: number;
  private readonly settings: Required<Omit<RtuTransportOptions, keyof TransportTiming>>;

  constructor(options: RtuTransportOptions) {
    super(options);
    this.settings = {
      path: options.path,
      baudRate: options.baudRate ?? 9600,
      parity: options.parity ?? 'none',
      dataBits: options.dataBits ?? 8,
      stopBits: options.stopBits ?? 1,
    };
    const s = this.settings;
    // Modbus RTU: 3.5 character times of silence between frames, fixed at 1.75 ms above 19200 baud.
    const bitsPerChar = 1 + s.dataBits + (s.parity === 'none' ? 0 : 1) + s.stopBits;
    this.minGapMs = s.baudRate > 19200 ? 1.75 : (3.5 * bitsPerChar * 1000) / s.baudRate;
    this.label = `rtu ${s.path} ${s.baudRate} ${s.dataBits}${s.parity[0]?.toUpperCase()}${s.stopBits}`;
  }

  protected async openClient(): Promise<ModbusClient> {
    const client = new ModbusClient();
    client.on('error', () => undefined);
    const { path, ...serial } = this.settings;
    try {
      await client.connectRTUBuffered(path, serial);
      return client;
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new ModbusConnectionError(`cannot open serial port ${path}: ${why}`);
    }
  }

  /**
   * modbus-serial's buffered RTU port keeps unread bytes between requests and matches a reply only
   * by unit, function and length, so a late answer to a timed-out request could be taken as the
   * answer to the next one. Dropping whatever is buffered before each request closes that gap.
   */
  protected override beforeRequest(client: ModbusClient): void {
    const port = (client as unknown as { _port?: { _buffer?: Buffer } })._port;
    if (port && Buffer.isBuffer(port._buffer)) port._buffer = Buffer.alloc(0);
  }

  protected shut(client: ModbusClient): Promise<void> {
    // destroy() would not close a buffered RTU port (it has no destroy), so close it.
    return new Promise((resolve) => client.close(() => resolve()));
  }
}
