// Modbus TCP on modbus-serial's client. The socket is reopened on the next request after it drops.

import { ModbusConnectionError } from './errors.js';
import { ModbusClient } from './modbus-serial.js';
import { ModbusSerialTransport, type TransportTiming } from './transport.js';

export interface TcpTransportOptions extends TransportTiming {
  host: string;
  port: number;
  /** Time allowed for the TCP connect itself (default 3000 ms). */
  connectTimeoutMs?: number;
}

export class ModbusTcpTransport extends ModbusSerialTransport {
  readonly kind = 'tcp';
  readonly label: string;

  constructor(private readonly options: TcpTransportOptions) {
    super(options);
    this.label = `tcp ${options.host}:${options.port}`;
  }

  protected async openClient(): Promise<ModbusClient> {
    const client = new ModbusClient();
    client.on('error', () => undefined);
    const limit = this.options.connectTimeoutMs ?? 3000;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        client.connectTCP(this.options.host, { port: this.options.port }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`connect timed out after ${limit} ms`)), limit);
        }),
      ]);
      return client;
    } catch (err) {
      client.destroy(() => undefined);
      const why = err instanceof Error ? err.message : String(field(err, 'message') ?? err);
      throw new ModbusConnectionError(
        `cannot connect to Modbus TCP ${this.options.host}:${this.options.port}: ${why}`,
      );
    } finally {
      clearTimeout(timer);
    }
  }

  protected shut(client: ModbusClient): Promise<void> {
    // destroy, not close: close() ends the socket politely and waits for a peer that may be gone.
    return new Promise((resolve) => client.destroy(() => resolve()));
  }
}

function field(err: unknown, key: string): unknown {
  return typeof err === 'object' && err !== null ? (err as Record<string, unknown>)[key] : undefined;
}
