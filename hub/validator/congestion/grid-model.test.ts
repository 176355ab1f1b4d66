import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import {
  busOfParticipant,
  GridModelError,
  gridModelHash,
  lineLimitsW,
  parseGridModel,
  parseGridModelYaml,
  readGridModelFile,
} from './grid-model.js';
import { invert, luFactor, luSolve, SingularMatrixError } from './lu.js';

const grids = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../grids');

const small = {
  name: 'two',
  source: 'test',
  baseMVA: 100,
  slack: 'a',
  buses: [
    { id: 'a', region: 'r' },
    { id: 'b', region: 'r' },
  ],
  lines: [{ id: 'ab', from: 'a', to: 'b', x: 0.1, limitW: 1000 }],
  participants: [{ id: 'pt-1', bus: 'b' }],
};

function problems(raw: unknown): string[] {
  try {
    parseGridModel(raw);
  } catch (e) {
    if (e instanceof GridModelError) return [...e.problems];
    throw e;
  }
  return [];
}

describe('grid model files', () => {
  it('every file in grids/ parses', () => {
    const files = readdirSync(grids).filter((f) => f.endsWith('.yaml'));
    expect(files.sort()).toEqual(['ieee-118-bus.yaml', 'ieee-14-bus.yaml', 'pjm-5-bus.yaml']);
    for (const f of files) expect(() => readGridModelFile(path.join(grids, f))).not.toThrow();
  });

  it('PJM 5-bus carries the published limits: 400 MW on A-B, 240 MW on D-E, none elsewhere', () => {
    const m = readGridModelFile(path.join(grids, 'pjm-5-bus.yaml'));
    const lim = Object.fromEntries(m.lines.map((l) => [l.id, lineLimitsW(l).fromTo]));
    expect(lim).toEqual({
      'A-B': 400e6,
      'A-D': Number.POSITIVE_INFINITY,
      'A-E': Number.POSITIVE_INFINITY,
      'B-C': Number.POSITIVE_INFINITY,
      'C-D': Number.POSITIVE_INFINITY,
      'D-E': 240e6,
    });
    expect(m.loads.reduce((a, l) => a + l.W, 0)).toBe(1000e6);
  });

  it('the hash is the canonical JSON: same for reordered keys or reformatted YAML, new for any change', () => {
    const text = readFileSync(path.join(grids, 'pjm-5-bus.yaml'), 'utf8');
    const a = parseGridModelYaml(text);
    const shuffled = parseGridModel(Object.fromEntries(Object.entries(a).reverse()));
    expect(gridModelHash(a)).toMatch(/^[0-9a-f]{64}$/);
    expect(gridModelHash(shuffled)).toBe(gridModelHash(a));
    expect(gridModelHash(parseGridModelYaml(stringify(a)))).toBe(gridModelHash(a));
    const changed = { ...a, lines: a.lines.map((l) => (l.id === 'A-B' ? { ...l, x: 0.0282 } : l)) };
    expect(gridModelHash(parseGridModel(changed))).not.toBe(gridModelHash(a));
  });

  it('names the key and the fix for each mistake', () => {
    expect(problems({ ...small, lines: [{ id: 'ab', from: 'a', to: 'b', limitW: 1000 }] })).toEqual([
      'lines[ab].x: give the reactance either as `x` (per unit) or as `xOhm` with `baseKV`, not both or neither',
    ]);
    expect(problems({ ...small, lines: [{ id: 'ab', from: 'a', to: 'b', x: 0.1 }] })).toEqual([
      'lines[ab].limitW: is required: a limit in W (integer), "unlimited", or both `limitFromToW` and `limitToFromW`',
    ]);
    expect(problems({ ...small, lines: [{ id: 'ab', from: 'a', to: 'b', x: 0.1, limitW: 1.5 }] })[0]).toMatch(
      /^lines\[ab\]\.limitW: /,
    );
    expect(problems({ ...small, lines: [{ id: 'ab', from: 'a', to: 'c', x: 0.1, limitW: 5 }] })).toEqual([
      'lines[ab].to: bus "c" is not in `buses`; add it there or fix the name',
    ]);
    expect(problems({ ...small, slack: 'z' })).toEqual([
      'slack: bus "z" is not in `buses`; add it there or fix the name',
    ]);
    expect(problems({ ...small, buses: [...small.buses, { id: 'island', region: 'r' }] })).toEqual([
      'lines: buses island are not connected to the slack bus "a"; add a line or remove them',
    ]);
    expect(problems({ ...small, extra: 1 })[0]).toMatch(/extra/);
    expect(problems({ ...small, lines: [{ id: 'ab', from: 'a', to: 'b', xOhm: 5, limitW: 5 }] })).toContain(
      'lines[ab].xOhm: `xOhm` and `baseKV` go together; give both',
    );
    expect(() => parseGridModelYaml('buses: [', 'x.yaml')).toThrow(
      /x\.yaml: invalid grid model:\n {2}- \(file\): not valid YAML/,
    );
  });

  it('per-direction limits override limitW for their direction', () => {
    const m = parseGridModel({
      ...small,
      lines: [{ id: 'ab', from: 'a', to: 'b', x: 0.1, limitFromToW: 300, limitToFromW: 200 }],
    });
    expect(lineLimitsW(m.lines[0] as never)).toEqual({ fromTo: 300, toFrom: 200 });
    expect(busOfParticipant(m, 'pt-1')).toBe('b');
    expect(() => busOfParticipant(m, 'pt-2')).toThrow(
      /participant "pt-2" has no connection bus .* add it under `participants`/,
    );
  });
});

describe('LU with partial pivoting', () => {
  it('solves a system that needs a row swap', () => {
    // [[0, 2], [3, 1]] x = [4, 5]  →  x = [1, 2]
    const x = luSolve(luFactor(Float64Array.from([0, 2, 3, 1]), 2), [4, 5]);
    expect(Array.from(x)).toEqual([1, 2]);
  });

  it('rejects a singular matrix', () => {
    expect(() => luFactor(Float64Array.from([1, 2, 2, 4]), 2)).toThrow(SingularMatrixError);
  });

  it('A · A⁻¹ = I for random well-conditioned matrices', () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 8 })
          .chain((n) =>
            fc.tuple(
              fc.constant(n),
              fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: n * n, maxLength: n * n }),
            ),
          ),
        ([n, vals]) => {
          // Diagonally dominant, hence well conditioned.
          const a = Float64Array.from(vals);
          for (let i = 0; i < n; i++) a[i * n + i] = (a[i * n + i] as number) + n + 1;
          const inv = invert(a, n);
          for (let i = 0; i < n; i++)
            for (let j = 0; j < n; j++) {
              let s = 0;
              for (let k = 0; k < n; k++) s += (a[i * n + k] as number) * (inv[k * n + j] as number);
              expect(s).toBeCloseTo(i === j ? 1 : 0, 10);
            }
        },
      ),
      { numRuns: 100 },
    );
  });
});
