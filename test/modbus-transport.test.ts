// The Modbus transports (modbus-serial underneath) against the simulator's servers, over a real
// TCP socket and over a socat pseudo-terminal pair: data, exceptions, timeouts, bad CRCs,
// reconnecting. Each error must arrive as the seam's error type, whatever modbus-serial said.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModbusExceptionError, ModbusTimeoutError } from '../device-drivers/register-source.js';
import { FaultSwitches } from '../device-drivers/sim/faults.js';
import { SimUnits } from '../device-drivers/sim/modbus-handler.js';
import { RegisterBank } from '../device-drivers/sim/register-bank.js';
import { SimRtuServer } from '../device-drivers/sim/rtu-server.js';
import { SimTcpServer } from '../device-drivers/sim/tcp-server.js';
import {
  ModbusConnectionError,
  ModbusFrameError,
  ModbusRtuTransport,
  ModbusTcpTransport,
  type ModbusTransport,
} from '../device-drivers/transport/index.js';
import { type PtyPair, startPtyPair } from './support/socat.js';

function device() {
  const bank = new RegisterBank();
  bank.set('holding', 100, [1, 2, 3, 4, 5]);
  bank.set('input', 0, [0x4368, 0x0000]); // float32 232.0
  bank.allowWrites(200, 10);
  bank.set('holding', 200, new Array(10).fill(0));
  return { bank, faults: new FaultSwitches() };
}

function units() {
  const u = new SimUnits();
  const d1 = device();
  const d2 = device();
  u.add(1, d1);
  u.add(2, d2);
  return { u, d1, d2 };
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const addr = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return typeof addr === 'object' && addr ? addr.port : 0;
}

function sharedCases(name: string, setup: () => { t: ModbusTransport; d1: ReturnType<typeof device> }) {
  describe(`${name}: shared behaviour`, () => {
    it('reads holding and input registers', async () => {
      const { t } = setup();
      expect([...(await t.read(1, 3, 100, 5))]).toEqual([1, 2, 3, 4, 5]);
      expect([...(await t.read(2, 4, 0, 2))]).toEqual([0x4368, 0]);
    });

    it('writes registers (function 16) and reads them back', async () => {
      const { t } = setup();
      await t.write(1, 202, Uint16Array.of(7, 8, 9));
      expect([...(await t.read(1, 3, 200, 5))]).toEqual([0, 0, 7, 8, 9]);
    });

    it('maps an exception response to ModbusExceptionError with its code', async () => {
      const { t, d1 } = setup();
      const err = await t.read(1, 3, 5000, 2).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ModbusExceptionError);
      expect((err as ModbusExceptionError).code).toBe(2);
      d1.faults.exception(6, 1);
      const err2 = await t.read(1, 3, 100, 1).catch((e: unknown) => e);
      expect((err2 as ModbusExceptionError).code).toBe(6);
      // the counted fault is used up: the next request is answered
      expect([...(await t.read(1, 3, 100, 1))]).toEqual([1]);
    });

    it('maps silence to ModbusTimeoutError after the timeout, then works again', async () => {
      const { t, d1 } = setup();
      d1.faults.timeout(1);
      const started = Date.now();
      const err = await t.read(1, 3, 100, 2, 150).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ModbusTimeoutError);
      expect(Date.now() - started).toBeGreaterThanOrEqual(140);
      expect([...(await t.read(1, 3, 100, 2))]).toEqual([1, 2]);
    });

    it('rejects impossible requests before they reach the wire', async () => {
      const { t } = setup();
      await expect(t.read(1, 3, 65535, 2)).rejects.toThrow(/run past 65535/);
      await expect(t.read(1, 3, 0, 126)).rejects.toThrow(/count must be an integer 1..125/);
    });
  });
}

describe('Modbus TCP transport', () => {
  const { u, d1 } = units();
  const server = new SimTcpServer(u, { port: 0 });
  let t: ModbusTcpTransport;

  beforeAll(async () => {
    const { port } = await server.listen();
    t = new ModbusTcpTransport({ host: '127.0.0.1', port, timeoutMs: 500 });
  });
  afterAll(async () => {
    await t.close();
    await server.close();
  });

  sharedCases('tcp', () => ({ t, d1 }));

  it('answers exception 11 for a unit nobody serves (what a TCP gateway says)', async () => {
    const err = await t.read(9, 3, 0, 1).catch((e: unknown) => e);
    expect((err as ModbusExceptionError).code).toBe(11);
  });

  it('reconnects on the next request after the server dropped the connection', async () => {
    await t.read(1, 3, 100, 1);
    server.dropConnections();
    await expect.poll(() => t.connected, { timeout: 2000 }).toBe(false);
    expect([...(await t.read(1, 3, 100, 2))]).toEqual([1, 2]);
    expect(t.connected).toBe(true);
  });

  it('ignores a late answer to a timed-out request (transaction ids differ)', async () => {
    d1.faults.slow(300);
    await expect(t.read(1, 3, 100, 1, 100)).rejects.toBeInstanceOf(ModbusTimeoutError);
    d1.faults.slow(0);
    // The late answer ([1]) arrives while this request waits; it must get its own data.
    expect([...(await t.read(1, 3, 101, 2, 1000))]).toEqual([2, 3]);
  });

  it('reports a refused connection as ModbusConnectionError naming the address', async () => {
    const port = await freePort();
    const dead = new ModbusTcpTransport({ host: '127.0.0.1', port, timeoutMs: 200 });
    const err = await dead.read(1, 3, 0, 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModbusConnectionError);
    expect(String(err)).toContain(`127.0.0.1:${port}`);
    // a second request within the reconnect delay fails fast, without a new connect
    await expect(dead.read(1, 3, 0, 1)).rejects.toThrow(/next attempt in/);
    await dead.close();
  });
});

describe('Modbus RTU transport over a socat pseudo-terminal pair', () => {
  const { u, d1 } = units();
  let pty: PtyPair;
  let server: SimRtuServer;
  let t: ModbusRtuTransport;

  beforeAll(async () => {
    pty = await startPtyPair();
    server = new SimRtuServer(u, { path: pty.device, baudRate: 19200 });
    await server.open();
    t = new ModbusRtuTransport({ path: pty.client, baudRate: 19200, timeoutMs: 500 });
  });
  afterAll(async () => {
    await t?.close();
    await server?.close();
    await pty?.close();
  });

  sharedCases('rtu', () => ({ t, d1 }));

  it('reports a corrupted CRC as ModbusFrameError (a kind of timeout), at once', async () => {
    d1.faults.corruptCrc(1);
    const started = Date.now();
    const err = await t.read(1, 3, 100, 2).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModbusFrameError);
    expect(err).toBeInstanceOf(ModbusTimeoutError);
    expect(String(err)).toMatch(/CRC/);
    expect(Date.now() - started).toBeLessThan(400);
    expect([...(await t.read(1, 3, 100, 2))]).toEqual([1, 2]);
  });

  it('stays silent for a unit nobody serves (other devices may share the line)', async () => {
    await expect(t.read(9, 3, 0, 1, 150)).rejects.toBeInstanceOf(ModbusTimeoutError);
  });

  it('does not take a late answer, arrived before the next request, for its answer', async () => {
    d1.faults.slow(250);
    await expect(t.read(1, 3, 100, 2, 100)).rejects.toBeInstanceOf(ModbusTimeoutError);
    d1.faults.slow(0);
    // wait until the late answer ([1, 2]) has landed in the client's buffer, then ask something else
    await new Promise((r) => setTimeout(r, 250));
    expect([...(await t.read(1, 3, 102, 2))]).toEqual([3, 4]);
  });

  it('names the path when the serial port cannot be opened', async () => {
    const bad = new ModbusRtuTransport({ path: '/dev/does-not-exist-wattproof', timeoutMs: 100 });
    await expect(bad.read(1, 3, 0, 1)).rejects.toThrow(
      /cannot open serial port \/dev\/does-not-exist-wattproof/,
    );
    await bad.close();
  });
});
