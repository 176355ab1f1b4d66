// Small parts of the agent: the telemetry ring buffer, clock-synchronisation checks, the
// accelerated clock, and the log formatter.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { scaledClock } from '../agent/clock.js';
import { clockSyncCheckFor, firstAnswer } from '../agent/clock-sync.js';
import { prettyLine } from '../agent/log.js';
import { TelemetryBuffer } from '../agent/telemetry.js';

describe('telemetry buffer', () => {
  it('keeps the newest samples, drops the oldest first and counts the drops', () => {
    const b = new TelemetryBuffer(3);
    for (let t = 1; t <= 5; t++) b.push({ t, device: 'grid', point: 'W', value: t * 10 });
    expect(b.size).toBe(3);
    expect(b.dropped).toBe(2);
    expect(b.take(2).map((s) => s.t)).toEqual([3, 4]);
    b.push({ t: 6, device: 'pv', point: 'W', value: 1 });
    expect(b.take(10).map((s) => s.t)).toEqual([5, 6]);
    expect(b.size).toBe(0);
  });

  it('returns a batch in time order even when devices interleave', () => {
    const b = new TelemetryBuffer(10);
    b.push({ t: 5, device: 'grid', point: 'W', value: 1 });
    b.push({ t: 3, device: 'pv', point: 'W', value: 1 });
    expect(b.take(10).map((s) => s.t)).toEqual([3, 5]);
  });
});

describe('clock synchronisation checks', () => {
  it('file: synchronised while the marker exists', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'wattproof-clock-'));
    const marker = path.join(dir, 'synchronized');
    const check = clockSyncCheckFor('file', marker);
    expect(await check()).toBe(false);
    writeFileSync(marker, '');
    expect(await check()).toBe(true);
    rmSync(marker);
    expect(await check()).toBe(false);
  });

  it('the first method that can tell decides; none can tell means unsynchronised', async () => {
    expect(await firstAnswer([async () => undefined, async () => true, async () => false])()).toBe(true);
    expect(await firstAnswer([async () => undefined])()).toBe(false);
    expect(await clockSyncCheckFor('assume-synchronised', '/nonexistent')()).toBe(true);
    // auto never throws, whatever this machine has (timedatectl, chronyc, ntpstat or none).
    expect(typeof (await clockSyncCheckFor('auto', '/nonexistent/marker')())).toBe('boolean');
  });
});

describe('scaled clock', () => {
  it('runs from a fixed origin, so a restarted process sees the same timeline', async () => {
    const origin = Date.now() - 1000;
    const a = scaledClock(10, origin);
    const b = scaledClock(10, origin);
    const ta = a.now();
    const tb = b.now();
    expect(Math.abs(ta - tb)).toBeLessThan(50);
    // One real second since the origin is ten seconds on this clock.
    expect(ta - origin).toBeGreaterThanOrEqual(10_000);
    const fired = await new Promise<number>((resolve) => a.at(a.now() + 2000, () => resolve(a.now())));
    expect(fired).toBeGreaterThanOrEqual(ta + 2000);
  });
});

describe('log formatter', () => {
  it('turns a pino JSON line into one readable line', () => {
    const line = JSON.stringify({
      level: 40,
      time: Date.UTC(2026, 0, 1, 12, 0, 0, 5),
      pid: 1,
      hostname: 'h',
      msg: 'device read failed',
      device: 'grid',
    });
    expect(prettyLine(line)).toBe('12:00:00.005 WARN  device read failed device=grid\n');
    expect(prettyLine('not json')).toBe('not json');
  });
});
