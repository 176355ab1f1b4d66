// A Modbus transport: one link (a TCP connection or a serial line) that sends one request and
// waits for its answer. It does not queue: ModbusBus (device-drivers/bus.ts) makes sure only one
// request is on the wire at a time. Both transports sit on modbus-serial's client.

import type { ReadFunction, RegisterSink, RegisterSource } from '../register-source.js';
import { fromModbusSerialError, ModbusConnectionError } from './errors.js';
import type { ModbusClient } from './modbus-serial.js';

export interface ModbusTransport extends RegisterSource, RegisterSink {
  /** 'tcp' or 'rtu'; RTU buses are half duplex and slow, TCP ones are neither. */
  readonly kind: 'tcp' | 'rtu';
  /** Where it talks to, for messages: `tcp 127.0.0.1:502`, `rtu /dev/ttyUSB0 9600 8N1`. */
  readonly label: string;
  /** The timeout readRegisters/writeRegisters use when none is given. */
  defaultTimeoutMs: number;
  /** Silence the line needs between frames, ms (RTU: 3.5 characters; TCP: 0). */
  readonly minGapMs: number;
  read(
    unit: number,
    fn: ReadFunction,
    address: number,
    count: number,
    timeoutMs?: number,
  ): Promise<Uint16Array>;
  write(unit: number, address: number, values: Uint16Array, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export interface TransportTiming {
  /** Per-request answer timeout in ms (default 1000). */
  timeoutMs?: number;
  /** Waiting time after a failed connect before the next attempt; doubles up to 30 s (default 500). */
  reconnectDelayMs?: number;
}

type Callback<T> = (err: unknown, res: T) => void;

export function checkRequest(unit: number, address: number, count: number, maxCount: number): void {
  if (!Number.isInteger(unit) || unit < 0 || unit > 255) {
    throw new RangeError(`unit id must be an integer 0..255 (247 on RTU), got ${unit}`);
  }
  if (!Number.isInteger(address) || address < 0 || address > 0xffff) {
    throw new RangeError(`register address must be an integer 0..65535, got ${address}`);
  }
  if (!Number.isInteger(count) || count < 1 || count > maxCount) {
    throw new RangeError(`register count must be an integer 1..${maxCount}, got ${count}`);
  }
  if (address + count > 0x10000) {
    throw new RangeError(`registers ${address}..${address + count - 1} run past 65535`);
  }
}

/** What the TCP and RTU transports share: reconnecting, error mapping, one callback per request. */
export abstract class ModbusSerialTransport implements ModbusTransport {
  abstract readonly kind: 'tcp' | 'rtu';
  abstract readonly label: string;
  readonly minGapMs: number = 0;
  defaultTimeoutMs: number;
  private client: ModbusClient | undefined;
  private opening: Promise<ModbusClient> | undefined;
  private failInFlight: ((err: Error) => void) | undefined;
  private readonly baseReconnectDelayMs: number;
  private reconnectDelayMs: number;
  private nextConnectAt = 0;
  private lastConnectError = '';
  private closed = false;

  constructor(timing: TransportTiming = {}) {
    this.defaultTimeoutMs = timing.timeoutMs ?? 1000;
    this.baseReconnectDelayMs = timing.reconnectDelayMs ?? 500;
    this.reconnectDelayMs = this.baseReconnectDelayMs;
  }

  /** Opens a fresh modbus-serial client on the link; rejects with a message naming the link. */
  protected abstract openClient(): Promise<ModbusClient>;
  /** Called just before a request goes out (RTU drops stale bytes here). */
  protected beforeRequest(_client: ModbusClient): void {}
  /** How a client is shut (TCP destroys the socket; RTU closes the port). */
  protected abstract shut(client: ModbusClient): Promise<void>;

  get connected(): boolean {
    return this.client?.isOpen === true;
  }

  readRegisters(unit: number, fn: ReadFunction, address: number, count: number): Promise<Uint16Array> {
    return this.read(unit, fn, address, count);
  }

  writeRegisters(unit: number, address: number, values: Uint16Array): Promise<void> {
    return this.write(unit, address, values);
  }

  async read(
    unit: number,
    fn: ReadFunction,
    address: number,
    count: number,
    timeoutMs = this.defaultTimeoutMs,
  ): Promise<Uint16Array> {
    if (fn !== 3 && fn !== 4) throw new RangeError(`read function must be 3 or 4, got ${String(fn)}`);
    checkRequest(unit, address, count, 125);
    const what = `${this.label} unit ${unit} fn ${fn} @${address}+${count}`;
    const res = await this.send<{ data: number[] }>(what, timeoutMs, (client, cb) => {
      if (fn === 3) client.writeFC3(unit, address, count, cb);
      else client.writeFC4(unit, address, count, cb);
    });
    return Uint16Array.from(res.data);
  }

  async write(
    unit: number,
    address: number,
    values: Uint16Array,
    timeoutMs = this.defaultTimeoutMs,
  ): Promise<void> {
    checkRequest(unit, address, values.length, 123);
    const what = `${this.label} unit ${unit} fn 16 @${address}+${values.length}`;
    await this.send<unknown>(what, timeoutMs, (client, cb) =>
      client.writeFC16(unit, address, Array.from(values), cb),
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    const client = this.client ?? (await this.opening?.catch(() => undefined));
    this.client = undefined;
    this.failInFlight?.(new ModbusConnectionError(`${this.label}: transport closed`));
    if (client) await this.shut(client);
  }

  private async send<T>(
    what: string,
    timeoutMs: number,
    start: (client: ModbusClient, cb: Callback<T>) => void,
  ): Promise<T> {
    const client = await this.ready();
    this.beforeRequest(client);
    client.setTimeout(timeoutMs);
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const finish = (err: Error | undefined, res?: T) => {
        if (settled) return;
        settled = true;
        this.failInFlight = undefined;
        if (err) reject(err);
        else resolve(res as T);
      };
      this.failInFlight = (err) => finish(err);
      try {
        start(client, (err, res) => finish(err ? fromModbusSerialError(err, what) : undefined, res));
      } catch (err) {
        finish(fromModbusSerialError(err, what));
      }
    });
  }

  private async ready(): Promise<ModbusClient> {
    if (this.closed) throw new ModbusConnectionError(`${this.label}: transport closed`);
    if (this.client?.isOpen) return this.client;
    if (this.opening) return this.opening;
    const now = Date.now();
    if (now < this.nextConnectAt) {
      throw new ModbusConnectionError(
        `${this.label}: not connected (${this.lastConnectError}); next attempt in ${this.nextConnectAt - now} ms`,
      );
    }
    const stale = this.client;
    this.client = undefined;
    if (stale) await this.shut(stale).catch(() => undefined);
    this.opening = this.openClient();
    try {
      const client = await this.opening;
      if (this.closed) {
        await this.shut(client);
        throw new ModbusConnectionError(`${this.label}: transport closed`);
      }
      // modbus-serial re-emits port errors; without a listener an 'error' event would end the process.
      client.on('error', () => undefined);
      client.on('close', () => {
        if (this.client === client) this.client = undefined;
        this.failInFlight?.(
          new ModbusConnectionError(`${this.label}: connection closed while waiting for an answer`),
        );
      });
      this.client = client;
      this.reconnectDelayMs = this.baseReconnectDelayMs;
      return client;
    } catch (err) {
      this.lastConnectError = err instanceof Error ? err.message : String(err);
      this.nextConnectAt = Date.now() + this.reconnectDelayMs;
      this.reconnectDelayMs = Math.min(this.reconnectDelayMs * 2, 30_000);
      throw err instanceof ModbusConnectionError ? err : new ModbusConnectionError(this.lastConnectError);
    } finally {
      this.opening = undefined;
    }
  }
}
