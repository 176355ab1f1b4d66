import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ForbiddenRange, PlanError, type PlanItem, type ReadPlan, ReadPlanner } from './planner.js';

const item = (address: number, size = 1, name?: string, fn: 3 | 4 = 3): PlanItem => ({
  fn,
  address,
  size,
  ...(name !== undefined ? { name } : {}),
});

const spans = (plan: ReadPlan) => plan.requests.map((r) => `${r.fn}:${r.address}+${r.count}`);

describe('ReadPlanner', () => {
  it('merges adjacent points into one request and keeps function codes apart', () => {
    const plan = new ReadPlanner().plan([item(0, 2), item(2, 2), item(4), item(0, 2, undefined, 4)]);
    expect(spans(plan)).toEqual(['3:0+5', '4:0+2']);
    expect(plan.registers).toBe(7);
  });

  it('reads across a gap only up to maxGap', () => {
    const points = [item(0, 2), item(5, 2), item(20, 2)];
    expect(spans(new ReadPlanner({ maxGap: 0 }).plan(points))).toEqual(['3:0+2', '3:5+2', '3:20+2']);
    expect(spans(new ReadPlanner({ maxGap: 3 }).plan(points))).toEqual(['3:0+7', '3:20+2']);
    expect(spans(new ReadPlanner({ maxGap: 13 }).plan(points))).toEqual(['3:0+22']);
  });

  it('never reads more than maxRegisters in one request', () => {
    const points = Array.from({ length: 130 }, (_, i) => item(i));
    expect(spans(new ReadPlanner().plan(points))).toEqual(['3:0+125', '3:125+5']);
    expect(spans(new ReadPlanner({ maxRegisters: 60 }).plan(points))).toEqual([
      '3:0+60',
      '3:60+60',
      '3:120+10',
    ]);
  });

  it('does not cross a break or read a forbidden range', () => {
    const points = [item(0, 2), item(2, 2), item(6, 2)];
    expect(spans(new ReadPlanner({ breaks: [2], maxGap: 10 }).plan(points))).toEqual(['3:0+2', '3:2+6']);
    const forbidden: ForbiddenRange[] = [{ start: 4, end: 5 }];
    expect(spans(new ReadPlanner({ forbidden, maxGap: 10 }).plan(points))).toEqual(['3:0+4', '3:6+2']);
    // A range forbidden for fn 4 only does not stop fn 3.
    expect(
      spans(new ReadPlanner({ forbidden: [{ start: 4, end: 5, fn: 4 }], maxGap: 10 }).plan(points)),
    ).toEqual(['3:0+8']);
  });

  it('keeps a value with its scale factor when the layout allows, even at the cost of a request', () => {
    // 0..124 and 124..126 fit two requests greedily (0+125, 125+2), but W at 124 and W_SF at 126
    // would be split; 0+124 and 124+3 keeps them together with the same number of requests.
    const points = [
      ...Array.from({ length: 124 }, (_, i) => item(i)),
      item(124, 1, 'W'),
      item(126, 1, 'W_SF'),
    ];
    const plan = new ReadPlanner({ maxGap: 1, together: [['W', 'W_SF']] }).plan(points);
    expect(spans(plan)).toEqual(['3:0+124', '3:124+3']);
    expect(plan.split).toEqual([]);
  });

  it('reports a pair it had to split', () => {
    const plan = new ReadPlanner({ breaks: [10], maxGap: 20, together: [['W', 'W_SF']] }).plan([
      item(5, 1, 'W'),
      item(12, 1, 'W_SF'),
    ]);
    expect(plan.requests).toHaveLength(2);
    expect(plan.split).toEqual([['W', 'W_SF']]);
  });

  it('refuses impossible points with an error naming them', () => {
    expect(() => new ReadPlanner({ breaks: [11] }).plan([item(10, 2, 'X')])).toThrow(
      /X cross a block boundary/,
    );
    expect(() => new ReadPlanner({ forbidden: [{ start: 3, end: 4 }] }).plan([item(3, 1, 'Y')])).toThrow(
      PlanError,
    );
    expect(() => new ReadPlanner({ maxRegisters: 2 }).plan([item(0, 4, 'S')])).toThrow(/S span 4 registers/);
    expect(() => new ReadPlanner().plan([item(65535, 2, 'Z')])).toThrow(/outside 0..65535/);
    expect(() => new ReadPlanner({ maxRegisters: 126 })).toThrow(/1..125/);
  });
});

// ---- optimality -------------------------------------------------------------------------------

interface Scenario {
  items: PlanItem[];
  maxRegisters: number;
  maxGap: number;
  breaks: number[];
  forbidden: ForbiddenRange[];
  together: Array<[string, string]>;
}

const scenario: fc.Arbitrary<Scenario> = fc
  .record({
    pts: fc.array(
      fc.record({ address: fc.integer({ min: 0, max: 60 }), size: fc.integer({ min: 1, max: 4 }) }),
      {
        minLength: 1,
        maxLength: 9,
      },
    ),
    maxRegisters: fc.integer({ min: 4, max: 40 }),
    maxGap: fc.integer({ min: 0, max: 12 }),
    breaks: fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 3 }),
    forbidden: fc.array(
      fc.record({ start: fc.integer({ min: 0, max: 64 }), len: fc.integer({ min: 1, max: 3 }) }),
      {
        maxLength: 2,
      },
    ),
    pairs: fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 4 }),
  })
  .map(({ pts, maxRegisters, maxGap, breaks, forbidden, pairs }) => {
    const items = pts.map((p, i) => item(p.address, p.size, `p${i}`));
    const together = pairs
      .map(([a, b]): [string, string] => [`p${a % items.length}`, `p${b % items.length}`])
      .filter(([a, b]) => a !== b);
    return {
      items,
      maxRegisters,
      maxGap,
      breaks,
      forbidden: forbidden.map((f) => ({ start: f.start, end: f.start + f.len })),
      together,
    };
  });

/** Whether one request may read exactly this set of items (checked from first principles). */
function runAllowed(s: Scenario, run: PlanItem[]): { ok: boolean; start: number; end: number } {
  const start = Math.min(...run.map((i) => i.address));
  const end = Math.max(...run.map((i) => i.address + i.size));
  if (end - start > s.maxRegisters) return { ok: false, start, end };
  if (s.breaks.some((b) => b > start && b < end)) return { ok: false, start, end };
  if (s.forbidden.some((f) => f.start < end && start < f.end)) return { ok: false, start, end };
  let gap = 0;
  for (let r = start; r < end; r++) {
    const used = run.some((i) => r >= i.address && r < i.address + i.size);
    gap = used ? 0 : gap + 1;
    if (gap > s.maxGap) return { ok: false, start, end };
  }
  return { ok: true, start, end };
}

/**
 * The best plan by exhaustive search over every way to cut the address-sorted items into runs.
 * (Taking runs of consecutive items loses nothing: a request that serves two points also covers
 * every point between them.) Points that share registers must share a request, the planner's
 * rule for overlapping points. Returns [splits, requests, registers], or null when none is allowed.
 */
function bruteForce(s: Scenario): [number, number, number] | null {
  const sorted = [...s.items].sort((a, b) => a.address - b.address);
  const n = sorted.length;
  let best: [number, number, number] | null = null;
  for (let mask = 0; mask < 1 << (n - 1); mask++) {
    const runs: PlanItem[][] = [[sorted[0]!]];
    for (let i = 1; i < n; i++) {
      if (mask & (1 << (i - 1))) runs.push([sorted[i]!]);
      else runs[runs.length - 1]!.push(sorted[i]!);
    }
    let registers = 0;
    let ok = true;
    const runOf = new Map<string, number>();
    runs.forEach((run, k) => {
      const r = runAllowed(s, run);
      ok &&= r.ok;
      registers += r.end - r.start;
      for (const it of run) runOf.set(it.name!, k);
    });
    // The planner's rule: points that share registers are read by one request.
    const shared = sorted.some((a, i) =>
      sorted.some(
        (b, j) =>
          i < j &&
          a.address < b.address + b.size &&
          b.address < a.address + a.size &&
          runOf.get(a.name!) !== runOf.get(b.name!),
      ),
    );
    if (!ok || shared) continue;
    const splits = s.together.filter(([a, b]) => runOf.get(a) !== runOf.get(b)).length;
    const cost: [number, number, number] = [splits, runs.length, registers];
    if (
      best === null ||
      cost[0] < best[0] ||
      (cost[0] === best[0] && (cost[1] < best[1] || (cost[1] === best[1] && cost[2] < best[2])))
    ) {
      best = cost;
    }
  }
  return best;
}

describe('ReadPlanner is optimal (property, against exhaustive search)', () => {
  it('finds the fewest split pairs, then requests, then registers, and every request is allowed', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const planner = new ReadPlanner(s);
        const expected = bruteForce(s);
        let plan: ReadPlan;
        try {
          plan = planner.plan(s.items);
        } catch (e) {
          expect(e).toBeInstanceOf(PlanError);
          // The planner refuses only what no plan can read.
          expect(expected).toBeNull();
          return;
        }
        expect(expected).not.toBeNull();
        expect([plan.split.length, plan.requests.length, plan.registers]).toEqual(expected);
        for (const r of plan.requests) {
          expect(runAllowed(s, [...r.items]).ok).toBe(true);
          expect(r.address).toBe(Math.min(...r.items.map((i) => i.address)));
        }
        expect(plan.requests.flatMap((r) => r.items.map((i) => i.name)).sort()).toEqual(
          s.items.map((i) => i.name).sort(),
        );
      }),
      { numRuns: 400 },
    );
  });

  it('without pairs, needs exactly as many requests as greedy "extend while allowed" (optimal for runs)', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const plain = { ...s, together: [] };
        const sorted = [...s.items].sort((a, b) => a.address - b.address);
        if (sorted.some((i) => !runAllowed(plain, [i]).ok)) return;
        let plan: ReadPlan;
        try {
          plan = new ReadPlanner(plain).plan(s.items);
        } catch {
          return;
        }
        // Points that share registers go together (the planner's rule), so greedy walks groups of them.
        const groups: PlanItem[][] = [];
        let reach = -1;
        for (const it of sorted) {
          if (it.address < reach) groups[groups.length - 1]!.push(it);
          else groups.push([it]);
          reach = Math.max(reach, it.address + it.size);
        }
        if (groups.some((g) => !runAllowed(plain, g).ok)) return;
        let greedy = 0;
        let run: PlanItem[] = [];
        for (const g of groups) {
          if (run.length > 0 && runAllowed(plain, [...run, ...g]).ok) run.push(...g);
          else {
            greedy += 1;
            run = [...g];
          }
        }
        expect(plan.requests.length).toBe(greedy);
      }),
      { numRuns: 400 },
    );
  });
});
