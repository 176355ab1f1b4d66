// Checks the project's own SunSpec tables, point by point, against the SunSpec Alliance's official
// model definitions kept beside the repository in ../shared/reference/sunspec-models. Those files
// are reference data, not part of the product; where the folder is absent the test says so.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SUNSPEC_MODELS } from '../device-drivers/sunspec/index.js';
import type { SunSpecPointDef } from '../device-drivers/sunspec/types.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const refDir = path.resolve(repoRoot, '../shared/reference/sunspec-models');
const exists = existsSync(refDir);

interface RefPoint {
  name: string;
  type: string;
  size: number;
  sf?: string | number;
  units?: string;
  mandatory?: string;
  access?: string;
  static?: string;
}
interface RefGroup {
  name: string;
  count?: number | string;
  points: RefPoint[];
  groups?: RefGroup[];
}

function isRefGroup(x: unknown): x is RefGroup {
  if (typeof x !== 'object' || x === null) return false;
  const g = x as Record<string, unknown>;
  return typeof g.name === 'string' && Array.isArray(g.points);
}

/** One comparable row per point: offset, name, type, size, sf link, mandatory, writable. */
function refRows(points: RefPoint[]): string[] {
  let offset = 0;
  return points.map((p) => {
    const row = [
      offset,
      p.name,
      p.type,
      p.size,
      `sf=${p.sf ?? ''}`,
      p.mandatory === 'M' ? 'M' : 'O',
      p.access === 'RW' ? 'RW' : 'R',
      `units=${p.units ?? ''}`,
    ].join(' ');
    offset += p.size;
    return row;
  });
}

function ourRows(points: readonly SunSpecPointDef[]): string[] {
  return points.map((p) =>
    [
      p.offset,
      p.name,
      p.type,
      p.size,
      `sf=${p.sf ?? ''}`,
      p.mandatory ? 'M' : 'O',
      p.writable ? 'RW' : 'R',
      `units=${p.units ?? ''}`,
    ].join(' '),
  );
}

describe('SunSpec tables match the official model definitions', () => {
  it.skipIf(exists)('skipped: ../shared/reference/sunspec-models not found', () => {
    // Runs only where the reference folder is missing, so the report names what was not checked.
    expect(exists).toBe(false);
  });

  for (const [id, def] of SUNSPEC_MODELS) {
    it.skipIf(!exists)(
      `model ${id} (${def.name}): offsets, types, sizes, sf links, mandatory flags, groups`,
      () => {
        const raw: unknown = JSON.parse(readFileSync(path.join(refDir, `model_${id}.json`), 'utf8'));
        const top = (raw as { id?: unknown; group?: unknown }).group;
        expect((raw as { id?: unknown }).id).toBe(id);
        if (!isRefGroup(top)) throw new Error(`model_${id}.json has no top-level group`);
        expect(def.name).toBe(top.name);
        expect(ourRows(def.points)).toEqual(refRows(top.points));

        const refGroups = top.groups ?? [];
        const ours = def.groups ?? [];
        expect(ours.map((g) => g.name)).toEqual(refGroups.map((g) => g.name));
        refGroups.forEach((g, i) => {
          const mine = ours[i]!;
          expect(g.groups ?? []).toEqual([]); // none of the supported models nests groups deeper
          // A group without a fixed count repeats as often as the model length allows.
          expect(mine.repeating).toBe(g.count === 0 || typeof g.count === 'string' || g.count === undefined);
          expect(ourRows(mine.points)).toEqual(refRows(g.points));
        });

        // A fixed model length stated by the reference (the L point's value) must match ours.
        const lValue = (top.points.find((p) => p.name === 'L') as { value?: unknown } | undefined)?.value;
        if (typeof lValue === 'number') {
          const last = def.points[def.points.length - 1]!;
          expect(last.offset + last.size - 2).toBe(lValue);
        }
      },
    );
  }
});
