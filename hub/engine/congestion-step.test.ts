// The congestion step plans the validator's congestion decisions from the folded state: which
// intervals are due, one decision per interval with flowing contracts, a new one when the flowing
// contracts change before the interval starts, none when nothing changed, and an undecidable
// interval (firm contracts alone overload a line) logged once and not retried.
import pino from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import { EXAMPLE_T0 } from '../../protocol/messages/examples.js';
import { type ContractRecord, emptyState } from '../contracts/fold.js';
import type { LogBuilder } from '../contracts/log-builder.js';
import { type Highs, loadSolver } from '../validator/congestion/lp.js';
import {
  activeWorld,
  compliantContract,
  fold,
  HOUR,
  K,
  POLICY_INPUT,
  propose,
  Q,
  runValidator,
  T_REVIEW,
  triangleGrid,
} from '../validator/fixtures.js';
import { parsePolicy } from '../validator/policy.js';
import { Validator } from '../validator/validator.js';
import { CongestionStep, dueIntervals, latestDecisionFor } from './congestion-step.js';

let highs: Highs;
beforeAll(async () => {
  highs = await loadSolver();
});

function setUp(congestion: NonNullable<(typeof POLICY_INPUT)['congestion']>) {
  const lines: { event?: string; level: number }[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => lines.push(JSON.parse(s)) });
  const gridModel = triangleGrid(2_000);
  const validator = new Validator({
    secretKey: K.validator.secretKey,
    policy: parsePolicy({ ...POLICY_INPUT, congestion }),
    currency: 'EUR',
    gridModel,
    highs,
  });
  const step = new CongestionStep({ validator, gridModel, highs, periodMs: Q, leadMs: 2 * HOUR, log });
  return { validator, step, lines };
}

/** Asks the step until it has nothing more, appending what it signs; returns how many. */
function drain(b: LogBuilder, step: CongestionStep, now: number): number {
  let n = 0;
  for (let round = 0; round < 50; round++) {
    const ds = step.next(fold(b), now);
    if (ds.length === 0) return n;
    for (const d of ds) b.appendSigned(d.compact);
    n += ds.length;
  }
  throw new Error('the step never ran out of decisions');
}

describe('congestion step', () => {
  it('due intervals: aligned, starting after now and within the lead', () => {
    expect(dueIntervals(EXAMPLE_T0 - 1, Q, Q)).toEqual([{ start: EXAMPLE_T0, end: EXAMPLE_T0 + Q }]);
    expect(dueIntervals(EXAMPLE_T0, Q, Q)).toEqual([{ start: EXAMPLE_T0 + Q, end: EXAMPLE_T0 + 2 * Q }]);
    expect(dueIntervals(EXAMPLE_T0, Q, Q - 1)).toEqual([]);
    expect(dueIntervals(EXAMPLE_T0 - 1, Q, 2 * Q).map((i) => i.start)).toEqual([EXAMPLE_T0, EXAMPLE_T0 + Q]);
  });

  it('decides each interval once, and again when the contracts flowing in it change', () => {
    const { validator, step } = setUp({ method: 'min-adjustment', weights: { default: 1 } });
    const { b, id } = activeWorld(compliantContract(), validator);
    expect(drain(b, step, T_REVIEW)).toBe(4);
    expect(drain(b, step, T_REVIEW + 1000)).toBe(0);

    // A second contract of the same parties over the first half hour: those two intervals again.
    const second = propose(
      b,
      compliantContract({
        nonce: 'c2Vjb25kLWNvbnRyYWN0',
        window: { start: EXAMPLE_T0, end: EXAMPLE_T0 + 2 * Q },
      }),
    );
    runValidator(b, validator, T_REVIEW);
    expect(fold(b).contracts[second]?.status).toBe('approved');
    expect(drain(b, step, T_REVIEW + 2000)).toBe(2);
    const s = fold(b);
    expect(s.congestion).toHaveLength(6);
    const first = latestDecisionFor(s, { start: EXAMPLE_T0, end: EXAMPLE_T0 + Q });
    // Both contracts share the line: 2 × 1000 Wh cut to 746 Wh in all (equal weights; HiGHS picks
    // the split), the other intervals keep their decision.
    const total = first?.adjustments.reduce((n, a) => n + a.quantityWh, 0);
    expect(first?.adjustments.map((a) => a.contract).sort()).toEqual([id, second].sort());
    expect(total).toBe(746);
    expect(latestDecisionFor(s, { start: EXAMPLE_T0 + 3 * Q, end: EXAMPLE_T0 + 4 * Q })?.adjustments).toEqual(
      [{ contract: id, interval: { start: EXAMPLE_T0 + 3 * Q, end: EXAMPLE_T0 + 4 * Q }, quantityWh: 746 }],
    );
    // Once an interval has started it is not decided again.
    expect(step.next(s, EXAMPLE_T0).length).toBe(0);
  });

  it('signs the decision byte for byte as the validator makes it from the state alone', () => {
    const { validator, step } = setUp({ method: 'min-adjustment', weights: { default: 1 } });
    const { b } = activeWorld(compliantContract(), validator);
    const state = fold(b);
    const made = step.next(state, T_REVIEW);
    expect(made).toHaveLength(1);
    const interval = made[0]?.decision.interval;
    if (interval === undefined) throw new Error('a congestion decision names its interval');
    // The step hands the validator the inputs it built; the validator's own path builds them anew.
    const own = validator.congestion(state, interval, T_REVIEW);
    expect(made[0]?.decision.outcome).toBe('adjusted');
    expect(made[0]?.compact).toBe(own?.compact);
  });

  it('an interval no adjustment within the policy can clear: logged once, nothing signed', () => {
    const { validator, step, lines } = setUp({
      method: 'min-adjustment',
      weights: { default: 1 },
      firmClasses: ['electricity'],
    });
    const { b } = activeWorld(compliantContract(), validator);
    expect(drain(b, step, T_REVIEW)).toBe(0);
    expect(drain(b, step, T_REVIEW + 1000)).toBe(0);
    const undecidable = lines.filter((l) => l.event === 'congestion-undecidable');
    // One per interval of the window, each once.
    expect(undecidable).toHaveLength(4);
    expect(fold(b).congestion).toEqual([]);
  });

  it("a step whose grid model is not the validator's signs nothing and says it is a setup fault", () => {
    const { validator, lines } = setUp({ method: 'min-adjustment', weights: { default: 1 } });
    const lines2: { event?: string; level: number; msg?: string }[] = [];
    const log = pino({ level: 'info' }, { write: (s: string) => lines2.push(JSON.parse(s)) });
    // The same grid with another line limit: another model hash than the validator's.
    const step = new CongestionStep({
      validator,
      gridModel: triangleGrid(1_999),
      highs,
      periodMs: Q,
      leadMs: 2 * HOUR,
      log,
    });
    const { b } = activeWorld(compliantContract(), validator);
    expect(drain(b, step, T_REVIEW)).toBe(0);
    const faults = lines2.filter((l) => l.event === 'congestion-misconfigured');
    expect(faults.length).toBeGreaterThan(0);
    expect(faults[0]?.msg).toMatch(/engine\.gridModelFile/);
    expect(lines2.filter((l) => l.event === 'congestion-undecidable')).toEqual([]);
    expect(lines).toEqual([]);
    expect(fold(b).congestion).toEqual([]);
  });

  it('a decision too large for one ledger entry is not signed, and is logged once', () => {
    const { step, lines } = setUp({ method: 'min-adjustment', weights: { default: 1 } });
    // 600 contracts bus-1 → bus-3 written straight into a state (only the fields the congestion
    // request reads): every one is cut, so the decision would list 600 adjustments (> 64 KiB).
    const state = emptyState();
    state.size = 1;
    state.registry.participants['pt-s'] = { gridNode: 'bus-1' } as never;
    state.registry.participants['pt-b'] = { gridNode: 'bus-3' } as never;
    for (let i = 0; i < 600; i++) {
      const id = `ct-${String(i).padEnd(43, 'A')}`;
      state.contracts[id] = {
        id,
        status: 'active',
        stop: null,
        history: [],
        contract: compliantContract({ seller: 'pt-s', buyer: 'pt-b' }),
      } as unknown as ContractRecord;
    }
    expect(step.next(state, T_REVIEW)).toEqual([]);
    state.size++;
    expect(step.next(state, T_REVIEW)).toEqual([]);
    const tooLarge = lines.filter((l) => l.event === 'congestion-decision-too-large');
    // Once for each of the four intervals; not again after more entries.
    expect(tooLarge).toHaveLength(4);
  });
});
