// ModbusBus against the simulator over real sockets and a socat pty: one request at a time in
// order, a dead device costs the others only its timeout and then nothing while it is backed off,
// it is probed and recovers when it comes back, and a garbled RTU answer is retried and reported.
import { afterEach, describe, expect, it } from 'vitest';
import { ModbusBus } from '../device-drivers/bus.js';
import { ManualClock } from '../device-drivers/sim/clock.js';
import { Simulator } from '../device-drivers/sim/simulator.js';
import {
  ModbusBackedOffError,
  ModbusFrameError,
  ModbusRtuTransport,
  ModbusTcpTransport,
} from '../device-drivers/transport/index.js';
import { type PtyPair, startPtyPair } from './support/socat.js';

const START = Date.UTC(2025, 5, 21, 10);
const TIMEOUT = 200;

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function tcpHome() {
  const sim = await Simulator.start({
    units: [
      { unit: 1, kind: 'sunspec-inverter' },
      { unit: 2, kind: 'sunspec-meter' },
      { unit: 3, kind: 'sunspec-battery' },
    ],
    tcp: { port: 0 },
    clock: new ManualClock(START),
    home: { startMs: START },
  });
  cleanup.push(() => sim.close());
  return sim;
}

function tcpBus(port: number, options: ConstructorParameters<typeof ModbusBus>[1] = {}) {
  const bus = new ModbusBus(new ModbusTcpTransport({ host: '127.0.0.1', port, timeoutMs: TIMEOUT }), options);
  cleanup.push(() => bus.close());
  return bus;
}

/** One poll of the three devices: each read's outcome and how long the whole cycle took. */
async function poll(bus: ModbusBus) {
  const started = performance.now();
  const outcome = await Promise.all(
    [1, 2, 3].map((unit) =>
      bus.readRegisters(unit, 3, 40000, 4).then(
        () => 'ok' as const,
        (e: unknown) => (e instanceof ModbusBackedOffError ? ('skipped' as const) : ('failed' as const)),
      ),
    ),
  );
  return { outcome, ms: performance.now() - started };
}

describe('ModbusBus', () => {
  it('sends one request at a time, first come first served', async () => {
    const sim = await tcpHome();
    const bus = tcpBus(sim.tcpPort as number);
    sim.device(1).faults.slow(60); // a slow first device must not let the others overtake it
    const done: number[] = [];
    const started = performance.now();
    await Promise.all(
      [1, 2, 3, 1, 2, 3].map((unit, i) => bus.readRegisters(unit, 3, 40000, 2).then(() => done.push(i))),
    );
    expect(done).toEqual([0, 1, 2, 3, 4, 5]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(115);
    expect(bus.queued).toBe(0);
  });

  it('keeps the configured quiet time before a slow device’s requests', async () => {
    const sim = await tcpHome();
    const bus = tcpBus(sim.tcpPort as number);
    bus.configureUnit(2, { interRequestDelayMs: 80 });
    await bus.readRegisters(1, 3, 40000, 2);
    const started = performance.now();
    await bus.readRegisters(2, 3, 40000, 2);
    await bus.readRegisters(2, 3, 40000, 2);
    expect(performance.now() - started).toBeGreaterThanOrEqual(155);
  });

  it('one unreachable device of three costs the others its timeout once, then nothing; it recovers when back', async () => {
    const sim = await tcpHome();
    const bus = tcpBus(sim.tcpPort as number, { retries: 1, backoff: { initialMs: 600, maxMs: 600 } });
    const healthy = await poll(bus);
    expect(healthy.outcome).toEqual(['ok', 'ok', 'ok']);

    sim.device(2).faults.disappear();
    const first = await poll(bus);
    expect(first.outcome).toEqual(['ok', 'failed', 'ok']);
    // The dead meter cost its timeout and one retry; the others cost what they always cost.
    expect(first.ms).toBeGreaterThanOrEqual(2 * TIMEOUT - 10);
    expect(first.ms).toBeLessThan(2 * TIMEOUT + healthy.ms + 150);

    const requestsBefore = sim.requests(2);
    const backedOff = await poll(bus);
    expect(backedOff.outcome).toEqual(['ok', 'skipped', 'ok']);
    expect(backedOff.ms).toBeLessThan(TIMEOUT / 2); // no timeout paid at all
    expect(sim.requests(2)).toBe(requestsBefore); // nothing went on the wire for it
    expect(bus.health(2)).toMatchObject({ state: 'degraded', consecutiveFailures: 1 });
    expect(bus.health(2)?.counts).toMatchObject({ timeouts: 2, retries: 1, skipped: 1 });
    expect(bus.health(1)?.state).toBe('ok');

    sim.device(2).faults.reappear();
    // Poll until the back-off has run out and the probe has brought it back.
    await expect
      .poll(async () => (await poll(bus)).outcome, { timeout: 3000, interval: 100 })
      .toEqual(['ok', 'ok', 'ok']);
    expect(bus.health(2)).toMatchObject({ state: 'ok', consecutiveFailures: 0, backedOffUntil: null });
    expect(bus.health(2)?.lastSuccessAt).toBeGreaterThan(0);
  });

  it('a device that stays away is probed once per back-off (growing, capped) and reported unreachable', async () => {
    const sim = await tcpHome();
    const bus = tcpBus(sim.tcpPort as number, {
      retries: 1,
      unreachableAfter: 3,
      backoff: { initialMs: 50, factor: 2, maxMs: 150 },
    });
    sim.device(3).faults.disappear();
    const waits: number[] = [];
    for (let failures = 0; failures < 4; ) {
      try {
        await bus.readRegisters(3, 3, 40000, 2);
      } catch (e) {
        if (e instanceof ModbusBackedOffError) {
          await new Promise((r) => setTimeout(r, Math.max(0, e.retryAt - Date.now())));
          continue;
        }
        failures++;
        waits.push(bus.health(3)?.backoffMs ?? -1);
      }
    }
    expect(bus.health(3)?.state).toBe('unreachable');
    // 50, 100, 150 (capped), 150: each failure doubles the back-off up to the cap.
    expect(waits).toEqual([50, 100, 150, 150]);
    // First request: timeout + retry; each probe after a back-off: one attempt only.
    expect(sim.requests(3)).toBe(2 + 3);
  });

  it('an exception is an answer: no retry, the device stays healthy', async () => {
    const sim = await tcpHome();
    const bus = tcpBus(sim.tcpPort as number);
    await expect(bus.readRegisters(1, 3, 100, 2)).rejects.toMatchObject({ code: 2 });
    expect(sim.requests(1)).toBe(1);
    expect(bus.health(1)).toMatchObject({ state: 'ok', counts: { exceptions: 1, retries: 0 } });
  });

  it('reconnects the TCP socket when it drops between requests', async () => {
    const sim = await tcpHome();
    const bus = tcpBus(sim.tcpPort as number);
    await bus.readRegisters(1, 3, 40000, 2);
    sim.tcp?.dropConnections();
    await new Promise((r) => setTimeout(r, 20));
    expect([...(await bus.readRegisters(1, 3, 40000, 2))]).toEqual([0x5375, 0x6e53]);
  });

  describe('over RTU (socat pseudo-terminals)', () => {
    let pty: PtyPair;

    async function rtuHome() {
      pty = await startPtyPair();
      cleanup.push(() => pty.close());
      const sim = await Simulator.start({
        units: [{ unit: 1, kind: 'sunspec-meter' }],
        rtu: { path: pty.device },
        clock: new ManualClock(START),
        home: { startMs: START },
      });
      cleanup.push(() => sim.close());
      const bus = new ModbusBus(new ModbusRtuTransport({ path: pty.client, timeoutMs: TIMEOUT }), {
        retries: 2,
      });
      cleanup.push(() => bus.close());
      return { sim, bus };
    }

    it('retries an answer with a corrupted CRC and reports it in the health', async () => {
      const { sim, bus } = await rtuHome();
      sim.device(1).faults.corruptCrc(2);
      expect([...(await bus.readRegisters(1, 3, 40000, 2))]).toEqual([0x5375, 0x6e53]);
      expect(sim.requests(1)).toBe(3);
      expect(bus.health(1)).toMatchObject({
        state: 'degraded',
        counts: { frameErrors: 2, retries: 2, ok: 1 },
      });
      expect(bus.health(1)?.lastError).toMatch(/CRC/);
      await bus.readRegisters(1, 3, 40000, 2);
      expect(bus.health(1)?.state).toBe('ok');
    });

    it('gives up after the retries with a frame error when every answer is corrupt', async () => {
      const { sim, bus } = await rtuHome();
      sim.device(1).faults.corruptCrc();
      await expect(bus.readRegisters(1, 3, 40000, 2)).rejects.toBeInstanceOf(ModbusFrameError);
      expect(sim.requests(1)).toBe(3);
      expect(bus.health(1)).toMatchObject({ state: 'degraded', counts: { frameErrors: 3 } });
    });
  });
});
