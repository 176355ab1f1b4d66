// The running agent (in process) on a clock this test drives: the system clock cannot be changed
// in a test, so the Agent gets a Clock whose wall time can be stepped independently of its
// monotonic time, exactly what NTP does to a Raspberry Pi that booted with a stale clock. The
// devices are real enough: simulated SunSpec meters over Modbus TCP; the outbox a real SQLite file.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../agent/agent.js';
import type { Clock } from '../agent/clock.js';
import { parseAgentConfig } from '../agent/config.js';
import { createIdentity } from '../agent/identity.js';
import { Buses, meterSourceFor } from '../agent/meter-source.js';
import { Outbox } from '../agent/outbox.js';
import { decodeJwsUnverified } from '../protocol/index.js';
import type { MeterProof } from '../protocol/messages/index.js';
import { waitFor } from './support/agent-cli.js';
import { type SimHome, startSimHome } from './support/agent-sim-home.js';

/** Wall and monotonic time that move only when told; the wall clock can also be stepped. */
class SteppedClock implements Clock {
  private timers: Array<{ dueMono?: number; dueWall?: number; fn: () => void; id: number }> = [];
  private nextId = 0;
  constructor(
    private wall: number,
    private mono = 0,
  ) {}
  now(): number {
    return this.wall;
  }
  monotonic(): number {
    return this.mono;
  }
  after(ms: number, fn: () => void): () => void {
    const id = this.nextId++;
    this.timers.push({ dueMono: this.mono + ms, fn, id });
    return () => this.cancel(id);
  }
  at(wallMs: number, fn: () => void): () => void {
    const id = this.nextId++;
    this.timers.push({ dueWall: wallMs, fn, id });
    return () => this.cancel(id);
  }
  private cancel(id: number): void {
    this.timers = this.timers.filter((t) => t.id !== id);
  }
  /** Physical time passes: both clocks move. Fires what became due. */
  advance(ms: number): void {
    this.mono += ms;
    this.wall += ms;
    this.fire();
  }
  /** NTP steps the wall clock; no physical time passes. */
  step(ms: number): void {
    this.wall += ms;
    this.fire();
  }
  private fire(): void {
    const due = this.timers.filter(
      (t) =>
        (t.dueMono !== undefined && t.dueMono <= this.mono) ||
        (t.dueWall !== undefined && t.dueWall <= this.wall),
    );
    this.timers = this.timers.filter((t) => !due.includes(t));
    for (const t of due) t.fn();
  }
}

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

describe('agent on a clock that starts unsynchronised and then jumps', () => {
  let sim: SimHome;
  beforeAll(async () => {
    sim = await startSimHome({ scale: 1, origin: Date.now() });
  });
  afterAll(async () => {
    await sim?.close();
  });

  it('flags the proofs and never produces an interval that runs backwards or overlaps', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'wattproof-agent-clock-'));
    const config = parseAgentConfig(
      [
        `gateway: {stateDir: ${dir}, settlementMinutes: 1}`,
        "hub: {url: 'mqtt://127.0.0.1:1'}",
        'devices:',
        `  - {name: grid, transport: {type: tcp, host: 127.0.0.1, port: ${sim.port}}, unit: 1, kind: sunspec, role: grid, pollSeconds: 5}`,
        'clock: {syncCheck: file, checkSeconds: 5, jumpToleranceSeconds: 5}',
        'telemetry: {enabled: false}',
        '',
      ].join('\n'),
    );
    const identity = createIdentity(dir);
    const outbox = new Outbox(path.join(dir, 'outbox.sqlite'), identity);
    const buses = new Buses();
    const clock = new SteppedClock(T0);
    let synced = false;
    const agent = new Agent({
      config,
      identity,
      clock,
      clockSync: async () => synced,
      sources: config.devices.map((d) => meterSourceFor(buses, d)),
      outbox,
      log: pino({ level: 'silent' }),
      version: 'test',
      configHash: 'A'.repeat(43),
    });
    await agent.start();
    const polled = async () => {
      // Wait for the poll this step triggered to be read and handled.
      const at = clock.now();
      await waitFor(() => agent.status.devices[0]?.lastReading?.at === at, `a reading at ${at}`, 10_000, 5);
    };
    try {
      clock.advance(0);
      await polled();
      // The gateway believes it is 12:00 while it is really 12:47:30 — 130 s pass, then NTP
      // steps the clock forward and reports synchronisation; 4 more minutes pass.
      for (let t = 5_000; t <= 130_000; t += 5_000) {
        clock.advance(5_000);
        await polled();
      }
      synced = true;
      clock.step(47 * 60_000 + 30_000);
      for (let t = 0; t < 240_000; t += 5_000) {
        clock.advance(5_000);
        await polled();
      }
    } finally {
      await agent.stop();
      await buses.close();
    }
    const proofs = outbox
      .pending(-1, 100)
      .map((r) => decodeJwsUnverified(r.jws)!.payload as MeterProof)
      .sort((a, b) => a.seq - b.seq);
    outbox.close();
    expect(proofs.length).toBeGreaterThanOrEqual(5);
    for (let i = 1; i < proofs.length; i++) {
      const a = proofs[i - 1]!;
      const b = proofs[i]!;
      expect(b.interval.start).toBeGreaterThanOrEqual(a.interval.end);
      expect(b.importWh.start).toBe(a.importWh.end);
    }
    for (const p of proofs) expect(p.interval.end - p.interval.start).toBe(60_000);
    expect(proofs[0]!.flags).toContain('clock-unsynchronised');
    const jumped = proofs.find((p) => p.flags.includes('clock-jump'));
    expect(jumped?.flags).toEqual(expect.arrayContaining(['clock-jump', 'gap']));
    expect(proofs.some((p) => p.interval.start === T0 + 49 * 60_000 && p.flags.includes('partial'))).toBe(
      true,
    );
    expect(proofs.at(-1)!.flags).toEqual([]);
  });

  it('a full disk is reported as a storage problem, not a device failure, and the chain recovers', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'wattproof-agent-full-'));
    const config = parseAgentConfig(
      [
        `gateway: {stateDir: ${dir}, settlementMinutes: 1}`,
        "hub: {url: 'mqtt://127.0.0.1:1'}",
        'devices:',
        `  - {name: grid, transport: {type: tcp, host: 127.0.0.1, port: ${sim.port}}, unit: 1, kind: sunspec, role: grid, pollSeconds: 5}`,
        'clock: {syncCheck: assume-synchronised}',
        'telemetry: {enabled: false}',
        '',
      ].join('\n'),
    );
    const identity = createIdentity(dir);
    const outbox = new Outbox(path.join(dir, 'outbox.sqlite'), identity);
    const buses = new Buses();
    const clock = new SteppedClock(T0);
    const logLines: string[] = [];
    const agent = new Agent({
      config,
      identity,
      clock,
      clockSync: async () => true,
      sources: config.devices.map((d) => meterSourceFor(buses, d)),
      outbox,
      log: pino({ level: 'info' }, { write: (line: string) => logLines.push(line) }),
      version: 'test',
      configHash: 'A'.repeat(43),
    });
    await agent.start();
    const step = async () => {
      clock.advance(5_000);
      const at = clock.now();
      await waitFor(() => agent.status.devices[0]?.lastReading?.at === at, `a reading at ${at}`, 10_000, 5);
    };
    try {
      clock.advance(0);
      for (let t = 0; t < 150_000; t += 5_000) await step();
      // The disk fills: SQLite may not grow the file any more (a real SQLITE_FULL from SQLite).
      const pages = outbox.db.pragma('page_count', { simple: true }) as number;
      outbox.db.pragma(`max_page_count = ${pages}`);
      try {
        for (let i = 0; ; i++) outbox.setMeta(`filler-${i}`, 'x'.repeat(1000));
      } catch {
        // full now
      }
      for (let t = 0; t < 300_000; t += 5_000) await step();
      expect(agent.status.storageError).toMatch(/full/i);
      outbox.db.pragma('max_page_count = 1073741823');
      for (let t = 0; t < 150_000; t += 5_000) await step();
    } finally {
      await agent.stop();
      await buses.close();
    }
    const log = logLines.join('');
    expect(log).toContain('cannot store the proof: the disk is full');
    expect(log).not.toContain('device read failed');
    expect(agent.status.storageError).toBeNull();
    const proofs = outbox
      .pending(-1, 100)
      .map((r) => decodeJwsUnverified(r.jws)!.payload as MeterProof)
      .sort((a, b) => a.seq - b.seq);
    outbox.close();
    expect(proofs.map((p) => p.seq)).toEqual(proofs.map((_, i) => i));
    expect(proofs.some((p) => p.flags.includes('device-error'))).toBe(false);
    for (let i = 1; i < proofs.length; i++) {
      const a = proofs[i - 1]!;
      const b = proofs[i]!;
      if (b.interval.start !== a.interval.end) {
        // A hole while the disk was full: never silent.
        expect(b.flags).toEqual(expect.arrayContaining(['partial']));
      } else {
        expect(b.importWh.start).toBe(a.importWh.end);
      }
    }
    expect(proofs.at(-1)!.flags).toEqual([]);
  });
});
