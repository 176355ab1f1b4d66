import { describe, expect, it } from 'vitest';
import { EXAMPLE_T0, exampleMeterProof } from './examples.js';
import { type MeterProof, meterProofDeltas, parseMeterProof } from './meter-proof.js';

const HASH = 'q'.repeat(42) + 'A';

function issuesOf(payload: unknown) {
  const r = parseMeterProof(payload);
  if (r.ok) throw new Error('expected a rejection');
  return r.issues;
}

function withChanges(change: (p: Record<string, unknown> & MeterProof) => void) {
  const p = structuredClone(exampleMeterProof(1, HASH)) as Record<string, unknown> & MeterProof;
  change(p);
  return p;
}

describe('meter proof', () => {
  it('accepts the example and fills in energy when absent', () => {
    expect(parseMeterProof(exampleMeterProof()).ok).toBe(true);
    const p = withChanges((p) => {
      delete (p as Partial<MeterProof>).energy;
    });
    const r = parseMeterProof(p);
    expect(r.ok && r.value.energy).toBe('electricity');
  });

  it('rejects unknown fields, naming them', () => {
    expect(issuesOf(withChanges((p) => (p['extra'] = 1)))).toEqual([
      { path: '', message: 'unknown field "extra": not part of this message type; remove it' },
    ]);
    expect(issuesOf(withChanges((p) => Object.assign(p.meter, { colour: 'red' })))[0]?.path).toBe('meter');
  });

  it('rejects fractions, unsafe integers and negatives with the field named', () => {
    expect(issuesOf(withChanges((p) => (p.importWh.end = 1.5)))).toEqual([
      { path: 'importWh.end', message: 'must be an integer (no fractions; integer units only)' },
    ]);
    expect(issuesOf(withChanges((p) => (p.samples = 2 ** 53)))[0]?.path).toBe('samples');
    expect(issuesOf(withChanges((p) => (p.exportWh.start = -1)))[0]).toEqual({
      path: 'exportWh.start',
      message: expect.stringContaining('≥ 0'),
    });
    expect(issuesOf(withChanges((p) => (p.signedAt = 1e15)))[0]?.message).toMatch(/year 9999/);
  });

  it('names missing fields and wrong types', () => {
    const p = withChanges((p) => delete (p as Partial<MeterProof>).seq);
    expect(issuesOf(p)).toEqual([{ path: 'seq', message: 'is required (expected number)' }]);
    expect(issuesOf(withChanges((p) => ((p as Record<string, unknown>).meter = 'x')))[0]?.message).toBe(
      'must be an object',
    );
    expect(issuesOf('a string')).toEqual([{ path: '', message: 'must be an object' }]);
  });

  it('checks ids, hashes and names by pattern', () => {
    expect(issuesOf(withChanges((p) => (p.gw = 'gw-ABCDEFGHIJKLMNOP')))[0]?.path).toBe('gw');
    expect(issuesOf(withChanges((p) => (p.gw = 'gw-abcdefghijklmno/')))[0]?.path).toBe('gw');
    expect(issuesOf(withChanges((p) => (p.prev = `${'q'.repeat(42)}B`)))[0]?.path).toBe('prev');
    expect(issuesOf(withChanges((p) => (p.meter.id = 'a/b')))[0]?.path).toBe('meter.id');
    expect(issuesOf(withChanges((p) => (p.meter.serial = 'a\nb')))[0]?.message).toMatch(/control characters/);
    expect(issuesOf(withChanges((p) => (p.meter.serial = '')))[0]?.message).toBe('must not be empty');
  });

  it('ties prev to seq: null exactly at seq 0', () => {
    expect(issuesOf({ ...exampleMeterProof(0), prev: HASH })[0]?.message).toMatch(/null at seq 0/);
    expect(issuesOf({ ...exampleMeterProof(3), prev: null })[0]?.message).toMatch(/hash of message seq 2/);
  });

  it('requires an interval of one settlement period, aligned', () => {
    expect(issuesOf(withChanges((p) => (p.interval.end = p.interval.start)))).toEqual([
      { path: 'interval.end', message: 'must be after start' },
    ]);
    expect(issuesOf(withChanges((p) => (p.interval.end = p.interval.start + 1000)))[0]?.message).toMatch(
      /one settlement period long/,
    );
    const shifted = withChanges((p) => {
      p.interval = { start: EXAMPLE_T0 + 60_000, end: EXAMPLE_T0 + 960_000 };
      p.signedAt = EXAMPLE_T0 + 2_000_000;
    });
    expect(issuesOf(shifted)).toEqual([
      { path: 'interval.start', message: 'must be aligned to the 900000 ms settlement period (UTC)' },
    ]);
    // A 1-minute demo interval is fine.
    const minute = withChanges((p) => {
      p.interval = { start: EXAMPLE_T0, end: EXAMPLE_T0 + 60_000 };
    });
    expect(parseMeterProof(minute).ok).toBe(true);
  });

  it('refuses a counter going backwards unless counter-reset or scale-change is flagged', () => {
    const back = withChanges((p) => (p.importWh.end = p.importWh.start - 1));
    expect(issuesOf(back)).toEqual([
      { path: 'importWh.end', message: expect.stringMatching(/counter-reset/) },
    ]);
    expect(parseMeterProof({ ...back, flags: ['counter-reset'] }).ok).toBe(true);
    expect(parseMeterProof({ ...back, flags: ['scale-change'] }).ok).toBe(true);
    const backExport = withChanges((p) => (p.exportWh.end = 0));
    expect(issuesOf(backExport)[0]?.path).toBe('exportWh.end');
  });

  it('needs a flag for missing samples, and no more samples than expected', () => {
    expect(issuesOf(withChanges((p) => (p.samples = 80)))).toEqual([
      { path: 'flags', message: expect.stringMatching(/samples \(80\) < expectedSamples \(90\)/) },
    ]);
    for (const f of ['gap', 'partial', 'device-error', 'agent-restart'] as const)
      expect(parseMeterProof(withChanges((p) => Object.assign(p, { samples: 80, flags: [f] }))).ok).toBe(
        true,
      );
    expect(issuesOf(withChanges((p) => (p.samples = 91)))[0]?.path).toBe('samples');
    expect(issuesOf(withChanges((p) => (p.expectedSamples = 0)))[0]?.path).toBe('expectedSamples');
  });

  it('wants flags known, unique and sorted', () => {
    expect(issuesOf(withChanges((p) => ((p.flags as string[]) = ['bogus'])))[0]?.path).toBe('flags[0]');
    expect(issuesOf(withChanges((p) => (p.flags = ['gap', 'gap'])))[0]).toEqual({
      path: 'flags[1]',
      message: '"gap" appears twice; each value may appear once',
    });
    expect(issuesOf(withChanges((p) => (p.flags = ['gap', 'clock-jump'])))[0]?.message).toMatch(/sorted/);
  });

  it('refuses signing before the interval ends unless the clock is flagged', () => {
    const early = withChanges((p) => (p.signedAt = p.interval.end - 1));
    expect(issuesOf(early)[0]?.path).toBe('signedAt');
    expect(parseMeterProof({ ...early, flags: ['clock-unsynchronised'] }).ok).toBe(true);
    expect(parseMeterProof({ ...early, flags: ['clock-jump'] }).ok).toBe(true);
  });

  it('checks a gas volume counter against its declared calorific value', () => {
    const gas = withChanges((p) => {
      p.energy = 'gas';
      p.gas = { volumeDm3: { start: 1_000_000, end: 1_000_500 }, calorificValueWhPerM3: 10_550 };
      p.importWh = { start: 10_550_000, end: 10_555_275 };
      p.exportWh = { start: 0, end: 0 };
    });
    expect(parseMeterProof(gas).ok).toBe(true);
    expect(issuesOf({ ...gas, importWh: { start: 10_550_000, end: 10_555_276 } })).toEqual([
      { path: 'importWh.end', message: expect.stringMatching(/= 10555275$/) },
    ]);
    expect(issuesOf({ ...gas, energy: 'heat' })).toEqual([
      { path: 'gas', message: 'is only allowed when energy is "gas"' },
    ]);
  });

  it('gives deltas, null for a counter that went backwards', () => {
    const p = exampleMeterProof(2, HASH);
    expect(meterProofDeltas(p)).toEqual({ importWh: 150, exportWh: 420 });
    expect(meterProofDeltas({ ...p, importWh: { start: 10, end: 5 } }).importWh).toBeNull();
  });
});
