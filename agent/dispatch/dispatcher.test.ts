// The dispatcher with its real parts: the outbox (SQLite in a temp dir), the dispatch store in the
// same database, and the simulated battery over Modbus TCP through SunSpec model 124. Time is a
// hand-driven clock: the test decides when "later" is. What is checked: an applied command writes
// the battery and answers with a chained, gateway-signed response measuring it; the battery is
// released at the command's end; a nonce is used once and the same command is answered once; the
// state-of-charge and hub-key refusals; every answer is a valid dispatch response; each of the
// stats the metrics read moves on its own event and no other (a failed write is a real Modbus
// exception from the simulated battery).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { SunSpecBatteryControl } from '../../device-drivers/battery-control.js';
import { ModbusBus } from '../../device-drivers/bus.js';
import { Simulator } from '../../device-drivers/sim/simulator.js';
import { ModbusTcpTransport } from '../../device-drivers/transport/tcp.js';
import { deriveId, generateSecretKey, publicKeyOf, verifyJws } from '../../protocol/index.js';
import {
  DISPATCH_COMMAND_TYP,
  DISPATCH_RESPONSE_TYP,
  type DispatchCommand,
  type DispatchResponse,
  type FlexibilityContract,
  parseDispatchResponse,
  signMessage,
} from '../../protocol/messages/index.js';
import type { Clock } from '../clock.js';
import { createIdentity } from '../identity.js';
import { Outbox } from '../outbox.js';
import { AgentDispatcher, type DispatchStats } from './dispatcher.js';
import { DispatchStore } from './store.js';

const T0 = Date.UTC(2026, 0, 15, 2, 0);
const M = 60_000;
const CT = `ct-${'C'.repeat(42)}A`;

/** Polls `cond` until true (the boundaries keep agent/ from test/support's helper). */
async function waitFor(cond: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The stats' counters, flat, so that one comparison shows every counter that moved. */
function counters(s: DispatchStats): Record<string, number> {
  const c: Record<string, number> = {
    received: s.received,
    applied: s.applied,
    refused: s.refused,
    unreadable: s.unreadable,
    duplicates: s.duplicates,
    contracts: s.contracts,
    reverted: s.reverted,
    'writeFailures.apply': s.writeFailures.apply,
    'writeFailures.release': s.writeFailures.release,
  };
  for (const [code, n] of Object.entries(s.refusedBy)) c[`refusedBy.${code}`] = n;
  return c;
}

/** Watches the stats: moved() is what changed since the last call (only what changed). */
function watch(s: DispatchStats): { moved(): Record<string, number> } {
  let last = counters(s);
  return {
    moved() {
      const now = counters(s);
      const d: Record<string, number> = {};
      for (const [k, v] of Object.entries(now)) if (v !== last[k]) d[k] = v - (last[k] ?? 0);
      last = now;
      return d;
    },
  };
}

/** Time that moves when the test says; timers fire when it passes them. */
class HandClock implements Clock {
  private timers: { at: number; fn: () => void }[] = [];
  constructor(public t: number) {}
  now = () => this.t;
  monotonic = () => this.t;
  after = (ms: number, fn: () => void) => this.at(this.t + ms, fn);
  at = (wallMs: number, fn: () => void) => {
    const timer = { at: wallMs, fn };
    this.timers.push(timer);
    if (wallMs <= this.t) queueMicrotask(() => this.fire());
    return () => {
      this.timers = this.timers.filter((x) => x !== timer);
    };
  };
  set(t: number) {
    this.t = t;
    this.fire();
  }
  private fire() {
    const due = this.timers.filter((x) => x.at <= this.t);
    this.timers = this.timers.filter((x) => x.at > this.t);
    for (const x of due) x.fn();
  }
}

describe('AgentDispatcher on the simulated battery', () => {
  const closers: (() => Promise<unknown> | unknown)[] = [];
  afterEach(async () => {
    for (const c of closers.splice(0).reverse()) await c();
  });

  async function setUp(socStart = 0.5, withHubKey = true) {
    const clock = new HandClock(T0);
    const sim = await Simulator.start({
      units: [{ unit: 3, kind: 'sunspec-battery' }],
      tcp: { host: '127.0.0.1', port: 0 },
      clock: { now: () => clock.t },
      home: { startMs: T0, pvPeakW: 0, socStart },
    });
    closers.push(() => sim.close());
    const bus = new ModbusBus(
      new ModbusTcpTransport({ host: '127.0.0.1', port: sim.tcpPort ?? 0, timeoutMs: 1000 }),
    );
    closers.push(() => bus.close());
    const dir = mkdtempSync(path.join(tmpdir(), 'wattproof-dispatcher-'));
    const identity = createIdentity(path.join(dir, 'state'));
    const outbox = new Outbox(path.join(dir, 'outbox.sqlite'), identity);
    closers.push(() => outbox.close());
    const store = new DispatchStore(outbox.db);
    const hubSecret = generateSecretKey();
    const hub = { hubId: deriveId('hub', publicKeyOf(hubSecret)), publicKey: publicKeyOf(hubSecret) };
    const contract: FlexibilityContract = {
      product: 'flexibility',
      seller: 'pt-aaaaaaaaaaaaaaaa',
      buyer: 'pt-bbbbbbbbbbbbbbbb',
      energy: 'electricity',
      settlementPeriodMs: M,
      window: { start: T0, end: T0 + 10 * M },
      currency: 'EUR',
      deliveryPoints: {
        seller: [{ gw: identity.gatewayId, meter: 'battery' }],
        buyer: [{ gw: 'gw-bbbbbbbbbbbbbbbb', meter: 'grid' }],
      },
      deposits: { seller: 100, buyer: 100 },
      disputeWindowMs: M,
      nonce: 'ZmxleC1jb250cmFjdC0wMQ',
      createdAt: T0 - M,
      maxDischargeW: 3000,
      maxChargeW: 3000,
      availabilityMinor: 50,
      responseMinorPerKWh: 200,
      penaltyMinorPerKWh: 400,
    };
    store.addContract(CT, contract);
    let control: Promise<SunSpecBatteryControl> | undefined;
    const open = () => {
      control ??= SunSpecBatteryControl.open(bus, 3);
      return control;
    };
    /** Runs before each setpoint write (a test arms a device fault there). */
    const hooks: { beforeSetpoint?: () => void } = {};
    const d = new AgentDispatcher({
      gatewayId: identity.gatewayId,
      limits: { enabled: true, socMinPct: 10, socMaxPct: 95, maxDischargeW: 2500, maxChargeW: 2500 },
      hubKey: () => (withHubKey ? hub : null),
      battery: {
        state: async () => (await open()).state(),
        setpoint: async (w, r) => {
          const c = await open();
          hooks.beforeSetpoint?.();
          return c.setpoint(w, r);
        },
      },
      store,
      outbox,
      clock,
      log: pino({ level: 'silent' }),
      measureAfterMs: 2000,
    });
    closers.push(() => d.stop());
    const sign = (over: Partial<DispatchCommand> = {}) =>
      signMessage(
        DISPATCH_COMMAND_TYP,
        hub.hubId,
        {
          contract: CT,
          gw: identity.gatewayId,
          setpointW: 2000,
          start: T0,
          end: T0 + 5 * M,
          expires: T0 + M,
          nonce: 'ZGlzcGF0Y2gtbm9uY2UtMDE',
          issuedAt: T0 - 1000,
          ...over,
        },
        hubSecret,
      );
    const answers = () =>
      outbox.pending(-1, 100).map((row) => {
        const v = verifyJws(row.jws, { typ: DISPATCH_RESPONSE_TYP, publicKeyFor: () => identity.publicKey });
        if (!v.ok) throw new Error(v.detail);
        const p = parseDispatchResponse(v.payload);
        if (!p.ok) throw new Error('invalid response');
        return p.value as DispatchResponse;
      });
    return { clock, sim, d, sign, answers, identity, hooks };
  }

  it('applies: the battery follows, the response measures it after measureAfterMs, and the end releases it', async () => {
    const { clock, sim, d, sign, answers } = await setUp();
    const stats = watch(d.stats);
    expect(d.stats.setpointW).toBe(0);
    expect(d.stats.lastCommandAt).toBeNull();
    const handled = d.onCommand(sign());
    // The write happens at once; the measurement waits 2 s of the agent's clock.
    await waitFor(() => sim.home.batterySetpointW === 2000, 'the setpoint written');
    expect(answers()).toEqual([]);
    await waitFor(() => {
      clock.set(clock.t + 500);
      return answers().length === 1;
    }, 'the response');
    await handled;
    const [a] = answers();
    expect(a).toMatchObject({ outcome: 'applied', appliedW: 2000, measuredW: 2000, contract: CT, seq: 0 });
    expect(a?.at).toBeGreaterThanOrEqual(T0 + 2000);
    expect(stats.moved()).toEqual({ received: 1, applied: 1 });
    expect(d.stats.setpointW).toBe(2000);
    expect(d.stats.lastCommandAt).toBe(T0);
    // At the command's end the battery goes back to self-consumption.
    clock.set(T0 + 5 * M);
    await waitFor(() => sim.home.batterySetpointW === null, 'the battery released');
    await waitFor(() => d.stats.reverted === 1, 'the release counted');
    expect(stats.moved()).toEqual({ reverted: 1 });
    expect(d.stats.setpointW).toBe(0);
    expect(d.stats.lastCommandAt).toBe(T0);
  });

  it('a nonce is used once, the same command is answered once, a low battery is not discharged', async () => {
    const { clock, d, sign, answers } = await setUp(0.09);
    const stats = watch(d.stats);
    // SoC 9 % is below the installer's 10 %: no discharge; a charge is fine.
    await d.onCommand(sign({ setpointW: 1000 }));
    expect(stats.moved()).toEqual({ received: 1, refused: 1, 'refusedBy.soc-too-low': 1 });
    expect(d.stats.setpointW).toBe(0);
    const charge = sign({ setpointW: -1000, nonce: 'Y2hhcmdlLW5vbmNlLTAwMDE' });
    const p = d.onCommand(charge);
    await waitFor(() => {
      clock.set(clock.t + 500);
      return answers().length === 2;
    }, 'the charge applied');
    await p;
    expect(stats.moved()).toEqual({ received: 1, applied: 1 });
    expect(d.stats.setpointW).toBe(-1000);
    await d.onCommand(sign({ setpointW: 500, issuedAt: T0 })); // the first nonce again
    expect(stats.moved()).toEqual({ received: 1, refused: 1, 'refusedBy.replay': 1 });
    await d.onCommand(charge); // the very same bytes again
    expect(stats.moved()).toEqual({ received: 1, duplicates: 1 });
    // Neither a refusal nor a duplicate touches the setpoint in force.
    expect(d.stats.setpointW).toBe(-1000);
    const got = answers().map((a) => [a.outcome, a.reason?.code ?? a.appliedW]);
    expect(got).toEqual([
      ['refused', 'soc-too-low'],
      ['applied', -1000],
      ['refused', 'replay'],
    ]);
    expect(d.stats.duplicates).toBe(1);
    // The chain runs on: seq 0, 1, 2, each naming the previous.
    expect(answers().map((a) => a.seq)).toEqual([0, 1, 2]);
  });

  it('a command for later waits for its start without holding up the next one', async () => {
    const { clock, sim, d, sign, answers } = await setUp();
    await d.onCommand(sign({ start: T0 + M, expires: T0 + 2 * M }));
    await d.onCommand(sign({ gw: 'gw-bbbbbbbbbbbbbbbb', nonce: 'b3RoZXItZ2F0ZXdheS0wMDE' }));
    expect(answers().map((a) => a.reason?.code)).toEqual(['wrong-gateway']);
    expect(sim.home.batterySetpointW).toBeNull();
    clock.set(T0 + M);
    await waitFor(() => sim.home.batterySetpointW === 2000, 'the setpoint written at its start');
    await waitFor(() => {
      clock.set(clock.t + 500);
      return answers().length === 2;
    }, 'the response');
    expect(answers()[1]).toMatchObject({ outcome: 'applied', appliedW: 2000, measuredW: 2000 });
  });

  it('without the hub key every command is refused', async () => {
    const { d, sign, answers, sim } = await setUp(0.5, false);
    const stats = watch(d.stats);
    await d.onCommand(sign());
    expect(answers().map((a) => a.reason?.code)).toEqual(['hub-key-unknown']);
    expect(sim.home.batterySetpointW).toBeNull();
    expect(stats.moved()).toEqual({ received: 1, refused: 1, 'refusedBy.hub-key-unknown': 1 });
  });

  it('counts an unreadable command, a failed write and a failed release, each on its own', async () => {
    const { clock, sim, d, sign, answers, hooks } = await setUp();
    const stats = watch(d.stats);
    clock.set(T0 + 1000);
    await d.onCommand('not a dispatch command');
    expect(stats.moved()).toEqual({ received: 1, unreadable: 1 });
    expect(d.stats.lastCommandAt).toBe(T0 + 1000);
    expect(answers()).toEqual([]);

    // The battery answers the setpoint's requests with a Modbus exception (server device failure).
    hooks.beforeSetpoint = () => sim.device(3).faults.exception(4);
    await d.onCommand(sign());
    expect(answers().map((a) => a.reason?.code)).toEqual(['write-failed']);
    expect(stats.moved()).toEqual({
      received: 1,
      refused: 1,
      'refusedBy.write-failed': 1,
      'writeFailures.apply': 1,
    });
    expect(d.stats.setpointW).toBe(0);

    // The device takes the next command; at its end the release write fails.
    sim.device(3).faults.clear();
    hooks.beforeSetpoint = undefined;
    const next = d.onCommand(sign({ setpointW: -1500, nonce: 'c2Vjb25kLW5vbmNlLTAwMDE' }));
    await waitFor(() => {
      clock.set(clock.t + 500);
      return answers().length === 2;
    }, 'the second command applied');
    await next;
    expect(stats.moved()).toEqual({ received: 1, applied: 1 });
    expect(d.stats.setpointW).toBe(-1500);
    hooks.beforeSetpoint = () => sim.device(3).faults.exception(4);
    clock.set(T0 + 5 * M);
    await waitFor(() => d.stats.writeFailures.release === 1, 'the failed release counted');
    expect(stats.moved()).toEqual({ 'writeFailures.release': 1 });
    // The device's own revert timer ends the setpoint at the same moment.
    expect(d.stats.setpointW).toBe(0);
  });
});
