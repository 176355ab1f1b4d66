// A small dense LU factorisation with partial pivoting. Written here rather than taken from a
// matrix library because congestion decisions must be recomputed bit for bit later: every float
// operation below happens in one fixed order, which a library upgrade could silently change.
// The matrices are small (buses − 1, at most a few hundred), so dense O(n³) is milliseconds.

export class SingularMatrixError extends Error {
  constructor(readonly column: number) {
    super(`matrix is singular at column ${column} (is every bus connected to the slack?)`);
    this.name = 'SingularMatrixError';
  }
}

export interface LuFactors {
  n: number;
  /** L (unit lower, below the diagonal) and U (on and above), row-major, rows permuted. */
  lu: Float64Array;
  /** perm[i] = the original row now at row i. */
  perm: Int32Array;
}

/** Factorises a square row-major matrix: P·A = L·U. Throws SingularMatrixError on a zero pivot. */
export function luFactor(a: Float64Array, n: number): LuFactors {
  if (a.length !== n * n) throw new RangeError(`expected ${n}×${n} = ${n * n} entries, got ${a.length}`);
  const lu = Float64Array.from(a);
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  // Scale-aware singularity threshold: a pivot this small against the largest entry is zero.
  let maxAbs = 0;
  for (let i = 0; i < lu.length; i++) maxAbs = Math.max(maxAbs, Math.abs(lu[i] as number));
  const tiny = maxAbs * n * 1e-14;
  for (let k = 0; k < n; k++) {
    let p = k;
    let best = Math.abs(lu[k * n + k] as number);
    for (let i = k + 1; i < n; i++) {
      const v = Math.abs(lu[i * n + k] as number);
      if (v > best) {
        best = v;
        p = i;
      }
    }
    if (!(best > tiny)) throw new SingularMatrixError(k);
    if (p !== k) {
      for (let j = 0; j < n; j++) {
        const t = lu[k * n + j] as number;
        lu[k * n + j] = lu[p * n + j] as number;
        lu[p * n + j] = t;
      }
      const t = perm[k] as number;
      perm[k] = perm[p] as number;
      perm[p] = t;
    }
    const pivot = lu[k * n + k] as number;
    for (let i = k + 1; i < n; i++) {
      const f = (lu[i * n + k] as number) / pivot;
      lu[i * n + k] = f;
      if (f !== 0)
        for (let j = k + 1; j < n; j++)
          lu[i * n + j] = (lu[i * n + j] as number) - f * (lu[k * n + j] as number);
    }
  }
  return { n, lu, perm };
}

/** Solves A·x = b with the factors of A. */
export function luSolve(f: LuFactors, b: ArrayLike<number>): Float64Array {
  const { n, lu, perm } = f;
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = b[perm[i] as number] as number;
    for (let j = 0; j < i; j++) s -= (lu[i * n + j] as number) * (x[j] as number);
    x[i] = s;
  }
  for (let i = n - 1; i >= 0; i--) {
    let s = x[i] as number;
    for (let j = i + 1; j < n; j++) s -= (lu[i * n + j] as number) * (x[j] as number);
    x[i] = s / (lu[i * n + i] as number);
  }
  return x;
}

/** The inverse of a square row-major matrix, row-major. */
export function invert(a: Float64Array, n: number): Float64Array {
  const f = luFactor(a, n);
  const inv = new Float64Array(n * n);
  const e = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    e.fill(0);
    e[j] = 1;
    const col = luSolve(f, e);
    for (let i = 0; i < n; i++) inv[i * n + j] = col[i] as number;
  }
  return inv;
}
