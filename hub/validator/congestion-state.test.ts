// The fields of a signed congestion decision: the grid model first, then overloads and refusals,
// then the prices of the constraint packed into as few reasons as fit 500 characters each.
import { describe, expect, it } from 'vitest';
import { parseValidatorDecision } from '../../protocol/messages/index.js';
import type { CongestionOutputs } from './congestion/decision.js';
import { congestionDecisionFields } from './congestion-state.js';

const interval = { start: 1_767_225_600_000, end: 1_767_225_600_000 + 900_000 };

function outputs(over: Partial<CongestionOutputs>): CongestionOutputs {
  return {
    method: 'min-adjustment',
    outcome: 'approved',
    flowsBeforeW: {},
    overloads: [],
    adjustments: [],
    weightedChangeWh: 0,
    refused: [],
    flowsAfterW: {},
    lineShadowPrices: {},
    nodalCongestion: {},
    solverStatus: 'not-needed',
    ...over,
  };
}

describe('congestion decision fields', () => {
  it('an approved interval names only the grid model', () => {
    expect(congestionDecisionFields(outputs({}), interval, { name: 'g', hash: 'ab'.repeat(32) })).toEqual({
      outcome: 'approved',
      reasons: [{ code: 'grid-model', message: `grid model g, SHA-256 ${'ab'.repeat(32)}` }],
    });
  });

  it('packs the prices of a large grid into a few reasons within the message limit', () => {
    const nodal = Object.fromEntries(Array.from({ length: 118 }, (_, i) => [`bus-${i + 1}`, -1000 - i * 37]));
    const f = congestionDecisionFields(
      outputs({
        method: 'congestion-price',
        outcome: 'refused',
        overloads: [{ line: 'L1', flowW: 5000, limitW: 4000 }],
        refused: [{ contract: `ct-${'A'.repeat(43)}`, lines: [{ line: 'L1', ptdfPerMille: 420 }] }],
        lineShadowPrices: { L1: 2500, L7: -300 },
        nodalCongestion: nodal,
      }),
      interval,
      { name: 'ieee-118', hash: 'cd'.repeat(32) },
    );
    const codes = f.reasons.map((r) => r.code);
    expect(codes.slice(0, 4)).toEqual([
      'grid-model',
      'line-overload',
      'congestion-refused',
      'line-shadow-prices',
    ]);
    const nodalReasons = f.reasons.filter((r) => r.code === 'nodal-congestion-prices');
    expect(nodalReasons.length).toBeGreaterThan(1);
    expect(nodalReasons.length).toBeLessThanOrEqual(6);
    for (const r of f.reasons) expect(r.message.length).toBeLessThanOrEqual(500);
    // Every bus's value is there once, and reads back.
    const listed = nodalReasons
      .flatMap((r) => r.message.replace(/^[^:]*: /, '').split(', '))
      .map((item) => item.split(' '));
    expect(Object.fromEntries(listed.map(([id, v]) => [id, Number(v)]))).toEqual(nodal);
    expect(f.reasons.find((r) => r.code === 'line-shadow-prices')?.message).toBe(
      'μ, minor units per MWh: L1 2500, L7 -300',
    );
    // A decision with these fields passes the protocol's schema.
    const d = parseValidatorDecision({
      kind: 'congestion',
      subject: 'A'.repeat(43),
      inputsHash: 'A'.repeat(43),
      interval,
      at: interval.start - 60_000,
      ...f,
    });
    expect(d.ok).toBe(true);
  });
});
