// Settlement after congestion decisions (docs/validator.md, "Settlement after a congestion
// decision"): a contract settles against the quantities the latest decision of each interval
// allows. Logs are folded from scratch; the decisions are appended as the validator would sign
// them (the fold records congestion decisions; verify recomputes them, tested elsewhere).
import { describe, expect, it } from 'vitest';
import { EXAMPLE_T0 } from '../../protocol/messages/examples.js';
import type { ValidatorDecision } from '../../protocol/messages/index.js';
import { activeWorld, compliantContract, deliver, fold, K, Q } from '../validator/fixtures.js';
import { planSettlement } from './fold.js';
import type { LogBuilder } from './log-builder.js';
import { congestionAdjustmentsOf } from './settlement.js';

const iv = (i: number) => ({ start: EXAMPLE_T0 + i * Q, end: EXAMPLE_T0 + (i + 1) * Q });
const HASH = 'A'.repeat(43);

function congestion(b: LogBuilder, i: number, adjustments: { contract: string; quantityWh: number }[]) {
  const d: ValidatorDecision = {
    kind: 'congestion',
    subject: HASH,
    inputsHash: HASH,
    interval: iv(i),
    reasons: [{ code: 'line-overload', message: 'line 1-3 would carry more than its limit' }],
    at: EXAMPLE_T0 - 600_000,
    ...(adjustments.length > 0
      ? {
          outcome: 'adjusted' as const,
          adjustments: adjustments.map((a) => ({ ...a, interval: iv(i) })),
        }
      : { outcome: 'approved' as const, reasons: [] }),
  };
  b.decision(K.validator.id, d);
}

function plan(b: LogBuilder, id: string) {
  const p = planSettlement(fold(b), id, EXAMPLE_T0 + 4 * Q + 60_000);
  if (!p.ok) throw new Error(`${p.code}: ${p.message}`);
  return p;
}

describe('settlement after congestion decisions', () => {
  it('per-interval quantity: each adjusted interval owes its adjusted quantity; the latest decision of an interval rules', () => {
    const { b, id } = activeWorld();
    congestion(b, 0, [{ contract: id, quantityWh: 500 }]);
    // Interval 0 decided again (the contracts flowing changed): nothing adjusted now.
    congestion(b, 0, []);
    congestion(b, 1, [{ contract: id, quantityWh: 600 }]);
    congestion(b, 2, [{ contract: id, quantityWh: 0 }]);
    expect(congestionAdjustmentsOf(fold(b).congestion, id, compliantContract())).toEqual([
      { ...iv(1), fromWh: 1000, toWh: 600 },
      { ...iv(2), fromWh: 1000, toWh: 0 },
    ]);
    // Delivered in full everywhere (1000 Wh): intervals 1 and 2 count only what they may carry.
    deliver(b, [1000, 1000, 1000, 1000], [1000, 1000, 1000, 1000]);
    const p = plan(b, id);
    expect(p.computation.intervals.map((x) => x.deliveredWh)).toEqual([1000, 600, 0, 1000]);
    expect(p.payload).toMatchObject({
      contractedWh: 2600,
      deliveredWh: 2600,
      shortfallWh: 0,
      outcome: 'fulfilled',
      paymentMinor: 75, // floor(2600 × 29 / 1000)
      penaltyMinor: 0,
    });
  });

  it('a shortfall below the adjusted quantity is still a shortfall, penalised as usual', () => {
    const { b, id } = activeWorld();
    congestion(b, 0, [{ contract: id, quantityWh: 700 }]);
    deliver(b, [500, 1000, 1000, 1000], [1000, 1000, 1000, 1000]);
    expect(plan(b, id).payload).toMatchObject({
      contractedWh: 3700,
      deliveredWh: 3500,
      shortfallWh: 200,
      penaltyMinor: 4, // floor(200 × 20 / 1000)
    });
  });

  it('per-window quantity: the window owes wh + Σ (toWh − fromWh), and an adjusted interval counts at most toWh', () => {
    // 4000 Wh over the hour; the congestion request counts ceil(4000 × 15 / 60) = 1000 Wh per interval.
    const contract = compliantContract({ quantity: { wh: 4000, per: 'window' } });
    const { b, id } = activeWorld(contract);
    congestion(b, 3, [{ contract: id, quantityWh: 250 }]);
    deliver(b, [1000, 1000, 1000, 1000], [1000, 1000, 1000, 1000]);
    const p = plan(b, id);
    expect(p.computation.intervals.map((x) => x.deliveredWh)).toEqual([1000, 1000, 1000, 250]);
    expect(p.payload).toMatchObject({ contractedWh: 3250, deliveredWh: 3250, shortfallWh: 0 });
  });

  it('adjustments of another contract or outside the window change nothing', () => {
    const { b, id } = activeWorld();
    congestion(b, 1, [{ contract: `ct-${'B'.repeat(43)}`, quantityWh: 10 }]);
    congestion(b, 4, [{ contract: id, quantityWh: 10 }]);
    deliver(b, [1000, 1000, 1000, 1000], [1000, 1000, 1000, 1000]);
    expect(plan(b, id).payload).toMatchObject({ contractedWh: 4000, deliveredWh: 4000 });
  });
});
