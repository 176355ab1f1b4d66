import { describe, expect, it } from 'vitest';
import type { CongestionOutputs } from './congestion/decision.js';
import { nodalCongestionPrices } from './congestion-prices.js';
import { congestionDecisionFields } from './congestion-state.js';

const interval = { start: 0, end: 900_000 };
const grid = { name: 'triangle', hash: 'a'.repeat(64) };

function outputs(
  method: CongestionOutputs['method'],
  nodalCongestion: Record<string, number>,
  lines: Record<string, number> = { 'line-1-3': 4200 },
): CongestionOutputs {
  return {
    method,
    outcome: 'refused',
    flowsBeforeW: {},
    overloads: [{ line: 'line-1-3', flowW: 2667, limitW: 2000 }],
    adjustments: [],
    weightedChangeWh: 0,
    refused: [{ contract: 'ct-x', lines: [{ line: 'line-1-3', ptdfPerMille: 667 }] }],
    flowsAfterW: {},
    lineShadowPrices: lines,
    nodalCongestion,
    solverStatus: 'Optimal',
  };
}

describe('nodal congestion prices read back from a decision', () => {
  it('round-trips the packer: bus → price less the slack, minor units under congestion price', () => {
    const nodal = { 'bus-2': 1400, 'bus-3': -2800, 'bus.4_x': 7 };
    const f = congestionDecisionFields(outputs('congestion-price', nodal), interval, grid);
    expect(nodalCongestionPrices(f.reasons)).toEqual({ unit: 'minor units', prices: nodal });
  });

  it('says weight under minimum adjustment', () => {
    const f = congestionDecisionFields(outputs('min-adjustment', { 'bus-3': 12 }), interval, grid);
    expect(nodalCongestionPrices(f.reasons)).toEqual({ unit: 'weight', prices: { 'bus-3': 12 } });
  });

  it('round-trips a large grid packed into several reasons', () => {
    const nodal: Record<string, number> = {};
    for (let i = 0; i < 300; i++) nodal[`bus-${String(i).padStart(3, '0')}`] = (i % 7) * 1000 - 3001;
    const f = congestionDecisionFields(outputs('congestion-price', nodal, {}), interval, grid);
    expect(f.reasons.filter((r) => r.code === 'nodal-congestion-prices').length).toBeGreaterThan(1);
    expect(nodalCongestionPrices(f.reasons)).toEqual({ unit: 'minor units', prices: nodal });
  });

  it('none without congestion, and none when the list was cut (more reasons than fit)', () => {
    const f = congestionDecisionFields(outputs('congestion-price', {}, {}), interval, grid);
    expect(nodalCongestionPrices(f.reasons)).toBeNull();
    const nodal: Record<string, number> = {};
    for (let i = 0; i < 6000; i++) nodal[`bus-${i}`] = i + 1;
    const cut = congestionDecisionFields(outputs('congestion-price', nodal, {}), interval, grid);
    expect(cut.reasons.at(-1)?.code).toBe('more-in-inputs');
    expect(nodalCongestionPrices(cut.reasons)).toBeNull();
  });

  it('refuses a message not in the packed form', () => {
    const head = "price less the slack's, minor units per MWh:";
    for (const message of [`${head} bus-1`, `${head} bus-1 x`, `${head} bus-1 1, bus-1 2`, 'prices: bus-1 1'])
      expect(nodalCongestionPrices([{ code: 'nodal-congestion-prices', message }])).toBeNull();
  });
});
