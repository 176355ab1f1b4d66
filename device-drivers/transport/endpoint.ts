// Where a bus is: `HOST:PORT` for Modbus TCP, a serial path with its line settings for RTU. The
// installer's command line and the agent's config both end up here.
import { ModbusRtuTransport, type Parity } from './rtu.js';
import { ModbusTcpTransport } from './tcp.js';
import type { ModbusTransport } from './transport.js';

export type Endpoint =
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'rtu'; path: string; baudRate: number; parity: Parity; dataBits?: 7 | 8; stopBits?: 1 | 2 };

/** Parses `HOST:PORT` (`[::1]:502` for IPv6); the port defaults to 502. Errors name the input. */
export function parseTcpEndpoint(s: string): { kind: 'tcp'; host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(s.trim());
  const host = m?.[1] ?? m?.[2];
  const port = m?.[3] === undefined ? 502 : Number(m[3]);
  if (!m || !host || port < 1 || port > 65535) {
    throw new Error(`--tcp ${s}: expected HOST:PORT, e.g. 192.168.1.50:502 or 127.0.0.1:1502`);
  }
  return { kind: 'tcp', host, port };
}

export function parseParity(s: string): Parity {
  if (s === 'none' || s === 'even' || s === 'odd') return s;
  throw new Error(`--parity ${s}: expected none, even or odd`);
}

export function parseBaud(s: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 300 || n > 4_000_000) {
    throw new Error(`--baud ${s}: expected a baud rate such as 9600, 19200 or 115200`);
  }
  return n;
}

/**
 * Parses a unit range: `5`, `1-10`, or a list `1,2,5-7`. Ids are 1..247 (0 is broadcast).
 * Returns them sorted without repeats.
 */
export function parseUnits(s: string): number[] {
  const out = new Set<number>();
  for (const part of s.split(',')) {
    const m = /^\s*(\d{1,3})\s*(?:-\s*(\d{1,3})\s*)?$/.exec(part);
    const a = Number(m?.[1]);
    const b = m?.[2] === undefined ? a : Number(m[2]);
    if (!m || a < 1 || b > 247 || a > b) {
      throw new Error(`--units ${s}: expected unit ids 1..247 as A-B or a list, e.g. 1-10 or 1,2,5-7`);
    }
    for (let u = a; u <= b; u++) out.add(u);
  }
  return [...out].sort((x, y) => x - y);
}

export function openTransport(endpoint: Endpoint, timeoutMs?: number): ModbusTransport {
  const timing = timeoutMs === undefined ? {} : { timeoutMs };
  if (endpoint.kind === 'tcp')
    return new ModbusTcpTransport({ host: endpoint.host, port: endpoint.port, ...timing });
  return new ModbusRtuTransport({ ...endpoint, ...timing });
}
