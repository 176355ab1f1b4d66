// A thin, deterministic front to HiGHS (the `highs` package: HiGHS compiled to WebAssembly). Models
// are passed as sparse arrays (CSR), not LP text: no name parsing, no float printing, and the
// exact coefficients reach the solver. Options are fixed so the same model gives the same answer
// bit for bit on the same HiGHS build: dual simplex (a vertex solution, which the rounding rule
// relies on), fixed random seed, presolve off (so duals come straight from the final basis).

import type { Highs } from 'highs';
import * as highsModule from 'highs';

export type { Highs };

type HighsLoader = () => Promise<Highs>;

// `highs` ships CommonJS typings for an ES module whose default export is the loader, so the
// static types and the runtime disagree about where the loader sits; look for it in both places.
function highsLoader(): HighsLoader {
  const first: unknown = (highsModule as { default?: unknown }).default;
  if (typeof first === 'function') return first as HighsLoader;
  const second: unknown = (first as { default?: unknown } | undefined)?.default;
  if (typeof second === 'function') return second as HighsLoader;
  throw new Error('the highs package exports no loader function');
}

let loading: Promise<Highs> | undefined;

/** Loads the HiGHS runtime once per process. */
export function loadSolver(): Promise<Highs> {
  if (loading === undefined) loading = highsLoader()();
  return loading;
}

/** The solver options every congestion LP runs with; recorded with each decision. */
export const SOLVER_OPTIONS = {
  output_flag: false,
  solver: 'simplex',
  simplex_strategy: 1,
  presolve: 'off',
  random_seed: 0,
  primal_feasibility_tolerance: 1e-9,
  dual_feasibility_tolerance: 1e-9,
} as const;

export interface LinearProgram {
  sense: 'minimize' | 'maximize';
  colCost: Float64Array;
  colLower: Float64Array;
  colUpper: Float64Array;
  rowLower: Float64Array;
  rowUpper: Float64Array;
  /** CSR rows: row i's entries are starts[i]..starts[i+1] of indices/values. */
  rowStarts: Int32Array;
  rowIndices: Int32Array;
  rowValues: Float64Array;
}

export type LpStatus =
  | 'optimal'
  | 'infeasible'
  | 'unbounded'
  | 'unbounded-or-infeasible'
  | 'time-limit'
  | 'iteration-limit'
  | 'error';

export interface LpSolution {
  status: LpStatus;
  /** HiGHS's own model status code, for the record. */
  modelStatus: number;
  objective: number;
  x: Float64Array;
  /** ∂objective/∂(active row bound), as HiGHS reports it (for both senses). */
  rowDual: Float64Array;
  iterations: number;
}

function statusName(h: Highs, code: number): LpStatus {
  const s = h.constants.modelStatus;
  switch (code) {
    case s.optimal:
    case s.empty:
      return 'optimal';
    case s.infeasible:
      return 'infeasible';
    case s.unbounded:
      return 'unbounded';
    case s.unboundedOrInfeasible:
      return 'unbounded-or-infeasible';
    case s.timeLimit:
      return 'time-limit';
    case s.iterationLimit:
      return 'iteration-limit';
    default:
      return 'error';
  }
}

/** Builds CSR arrays from per-row sparse entries, in the given order. */
export class RowBuilder {
  private readonly starts: number[] = [0];
  private readonly indices: number[] = [];
  private readonly values: number[] = [];
  readonly lower: number[] = [];
  readonly upper: number[] = [];

  /** Adds a row lower ≤ Σ values[k]·x[cols[k]] ≤ upper; cols within a row must be distinct. */
  add(cols: readonly number[], values: readonly number[], lower: number, upper: number): number {
    for (let k = 0; k < cols.length; k++) {
      const v = values[k] as number;
      if (v === 0) continue;
      this.indices.push(cols[k] as number);
      this.values.push(v);
    }
    this.starts.push(this.indices.length);
    this.lower.push(lower);
    this.upper.push(upper);
    return this.lower.length - 1;
  }

  get count(): number {
    return this.lower.length;
  }

  build(): Pick<LinearProgram, 'rowLower' | 'rowUpper' | 'rowStarts' | 'rowIndices' | 'rowValues'> {
    return {
      rowLower: Float64Array.from(this.lower),
      rowUpper: Float64Array.from(this.upper),
      rowStarts: Int32Array.from(this.starts),
      rowIndices: Int32Array.from(this.indices),
      rowValues: Float64Array.from(this.values),
    };
  }
}

/** Solves an LP with HiGHS; never throws for an infeasible model (the status says so). */
export function solveLp(highs: Highs, lp: LinearProgram): LpSolution {
  const numCols = lp.colCost.length;
  const numRows = lp.rowLower.length;
  const inf = highs.infinity;
  const clampInf = (a: Float64Array) =>
    a.map((v) => (v === Number.POSITIVE_INFINITY ? inf : v === Number.NEGATIVE_INFINITY ? -inf : v));
  return highs.withModel(
    {
      numCols,
      numRows,
      sense:
        lp.sense === 'minimize'
          ? highs.constants.objectiveSense.minimize
          : highs.constants.objectiveSense.maximize,
      colCost: lp.colCost,
      colLower: clampInf(lp.colLower),
      colUpper: clampInf(lp.colUpper),
      rowLower: clampInf(lp.rowLower),
      rowUpper: clampInf(lp.rowUpper),
      matrix: {
        format: 'csr',
        numRows,
        numCols,
        starts: lp.rowStarts,
        indices: lp.rowIndices,
        values: lp.rowValues,
      },
    },
    (model) => {
      model.options.set({ ...SOLVER_OPTIONS });
      model.run();
      const code = model.getModelStatus();
      const status = statusName(highs, code);
      const sol = model.getSolution();
      const iterations = Number(model.info.get('simplex_iteration_count'));
      return {
        status,
        modelStatus: code,
        objective: status === 'optimal' ? model.getObjectiveValue() : Number.NaN,
        x: Float64Array.from(sol.colValue),
        rowDual: Float64Array.from(sol.rowDual),
        iterations,
      };
    },
  );
}

/** The HiGHS build a decision was made with, e.g. "HiGHS 1.15.1 (04024d7)". */
export function solverVersion(highs: Highs): string {
  return `HiGHS ${highs.version.string} (${highs.version.gitHash})`;
}
