// A stop that cites `congestion-refused` must follow a recorded congestion decision whose
// recomputation refused that contract; verify says `stop-unfounded` otherwise, and counts it a
// judgement when no congestion decision could be recomputed (no grid model or HiGHS given).
import { beforeAll, describe, expect, it } from 'vitest';
import { EXAMPLE_T0 } from '../../protocol/messages/examples.js';
import { type Highs, loadSolver } from './congestion/lp.js';
import { activeWorld, CFG, compliantContract, fold, K, POLICY_INPUT, Q, triangleGrid } from './fixtures.js';
import { parsePolicy } from './policy.js';
import { Validator } from './validator.js';
import { CONGESTION_REFUSED_CODE, verifyValidatorDecisions } from './verify-decisions.js';

let highs: Highs;
beforeAll(async () => {
  highs = await loadSolver();
});

const policy = parsePolicy({
  ...POLICY_INPUT,
  congestion: { method: 'congestion-price', weights: { default: 1 } },
});
const reason = [{ code: CONGESTION_REFUSED_CODE, message: 'refused by the congestion decision' }];
const interval = { start: EXAMPLE_T0, end: EXAMPLE_T0 + Q };

function world(limitW: number) {
  const grid = triangleGrid(limitW);
  const v = new Validator({
    secretKey: K.validator.secretKey,
    policy,
    currency: 'EUR',
    gridModel: grid,
    highs,
  });
  const { b, id } = activeWorld(compliantContract(), v);
  const c = v.congestion(fold(b), interval, EXAMPLE_T0 - 600_000);
  if (c === undefined) throw new Error('expected a congestion decision');
  b.appendSigned(c.compact);
  b.appendSigned(v.stop(fold(b), id, reason, EXAMPLE_T0 - 500_000).compact);
  return { b, grid, outcome: c.decision.outcome, stopIndex: b.entries.length - 1 };
}

describe('stops that follow a congestion refusal', () => {
  it('holds when the recomputed congestion decision refused the contract', () => {
    const { b, grid, outcome } = world(2_000);
    expect(outcome).toBe('refused');
    expect(verifyValidatorDecisions(b.entries, policy, grid, { config: CFG, highs })).toMatchObject({
      ok: true,
      judgements: 0,
    });
  });

  it('is unfounded when the congestion decision refused nothing', () => {
    const { b, grid, outcome, stopIndex } = world(1_000_000);
    expect(outcome).toBe('approved');
    expect(verifyValidatorDecisions(b.entries, policy, grid, { config: CFG, highs }).failure).toMatchObject({
      index: stopIndex,
      kind: 'contract-stop',
      reason: 'stop-unfounded',
    });
    // Without HiGHS nothing was recomputed: the stop is the validator's judgement.
    const r = verifyValidatorDecisions(b.entries, policy, grid, { config: CFG });
    expect(r.failure).toBeUndefined();
    expect(r.judgements).toBe(1);
  });
});
