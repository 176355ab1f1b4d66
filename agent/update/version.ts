// Release versions as the packages spell them: MAJOR.MINOR.PATCH with an optional -prerelease.
// Only ordering matters here (is the bundle newer than what runs, is what runs at least the
// bundle's minimum), so this is the part of SemVer 2.0.0 §11 that decides precedence.

const VERSION = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z.-]+))?$/;

export function isVersion(s: unknown): s is string {
  return typeof s === 'string' && s.length <= 64 && VERSION.test(s);
}

function prereleaseCompare(a: string, b: string): number {
  const pa = a.split('.');
  const pb = b.split('.');
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i];
    const y = pb[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const nx = /^\d+$/.test(x);
    const ny = /^\d+$/.test(y);
    if (nx && ny) {
      const d = Number(x) - Number(y);
      if (d !== 0) return Math.sign(d);
    } else if (nx !== ny) {
      return nx ? -1 : 1;
    } else if (x !== y) {
      return x < y ? -1 : 1;
    }
  }
  return 0;
}

/** -1, 0 or 1 as `a` precedes, equals or follows `b`. Throws for a string that is no version. */
export function compareVersions(a: string, b: string): number {
  const ma = VERSION.exec(a);
  const mb = VERSION.exec(b);
  if (!ma) throw new Error(`"${a}" is not a version (MAJOR.MINOR.PATCH)`);
  if (!mb) throw new Error(`"${b}" is not a version (MAJOR.MINOR.PATCH)`);
  for (let i = 1; i <= 3; i++) {
    const d = Number(ma[i]) - Number(mb[i]);
    if (d !== 0) return Math.sign(d);
  }
  const ra = ma[4];
  const rb = mb[4];
  if (ra === undefined && rb === undefined) return 0;
  if (ra === undefined) return 1;
  if (rb === undefined) return -1;
  return prereleaseCompare(ra, rb);
}
