// The grid model the validator's congestion checks run on: buses (nodes) with regions, lines with
// reactance and thermal limits, the slack bus, where participants connect, and (for the published
// test cases and economic dispatch) generator offers and fixed loads. Read from YAML, checked with
// zod; every error names the key and says how to fix it.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { canonicalHashHex } from './canonical.js';

const busId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'must be 1–64 letters, digits, "_", "." or "-"');
const positiveW = z.int().positive().max(Number.MAX_SAFE_INTEGER);
const nonNegativeW = z.int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/** A line's reactance: per unit on the model's base, or ohms with the line's base voltage. */
const lineSchema = z
  .strictObject({
    id: busId,
    from: busId,
    to: busId,
    /** Series reactance, per unit on `baseMVA`. Give this or `xOhm` with `baseKV`. */
    x: z.number().positive().finite().optional(),
    /** Series reactance in ohms; converted as x = xOhm · baseMVA / baseKV². */
    xOhm: z.number().positive().finite().optional(),
    /** Line-to-line base voltage for `xOhm`, kV. */
    baseKV: z.number().positive().finite().optional(),
    /** Off-nominal transformer ratio; the DC model uses b = 1/(x·tap), as MATPOWER's makeBdc. */
    tap: z.number().positive().finite().optional(),
    /** Thermal limit in W, both directions, or "unlimited" where the source gives none. */
    limitW: z.union([positiveW, z.literal('unlimited')]).optional(),
    /** Per-direction limits in W (from→to, to→from); override `limitW` for their direction. */
    limitFromToW: positiveW.optional(),
    limitToFromW: positiveW.optional(),
  })
  .superRefine((l, ctx) => {
    if (l.from === l.to) ctx.addIssue({ code: 'custom', path: ['to'], message: 'must differ from `from`' });
    const perUnit = l.x !== undefined;
    const ohms = l.xOhm !== undefined || l.baseKV !== undefined;
    if (perUnit === ohms)
      ctx.addIssue({
        code: 'custom',
        path: ['x'],
        message:
          'give the reactance either as `x` (per unit) or as `xOhm` with `baseKV`, not both or neither',
      });
    if (ohms && (l.xOhm === undefined || l.baseKV === undefined))
      ctx.addIssue({ code: 'custom', path: ['xOhm'], message: '`xOhm` and `baseKV` go together; give both' });
    const directional = l.limitFromToW !== undefined || l.limitToFromW !== undefined;
    if (l.limitW === undefined && !(l.limitFromToW !== undefined && l.limitToFromW !== undefined))
      ctx.addIssue({
        code: 'custom',
        path: ['limitW'],
        message:
          'is required: a limit in W (integer), "unlimited", or both `limitFromToW` and `limitToFromW`',
      });
    if (l.limitW === 'unlimited' && directional)
      ctx.addIssue({
        code: 'custom',
        path: ['limitW'],
        message: 'is "unlimited" but a per-direction limit is given; remove one',
      });
  });

const gridModelStructure = z.strictObject({
  /** A short name, e.g. "pjm-5-bus". */
  name: busId,
  /** Where the data comes from (publication, table), for the record. */
  source: z.string().min(1).max(2000),
  /** The power base that per-unit reactances are on, MVA. */
  baseMVA: z.number().positive().finite(),
  /** The reference bus: its angle is 0 and it balances the injections (PTDF column zero). */
  slack: busId,
  buses: z.array(z.strictObject({ id: busId, region: busId })).min(2, 'a grid needs at least two buses'),
  lines: z.array(lineSchema).min(1, 'a grid needs at least one line'),
  /** Where each participant connects. */
  participants: z.array(z.strictObject({ id: z.string().min(1).max(100), bus: busId })).default([]),
  /** Generator offers for economic dispatch (DC-OPF): capacity W, price minor units per MWh. */
  generators: z
    .array(
      z.strictObject({
        id: busId,
        bus: busId,
        maxW: nonNegativeW,
        minW: nonNegativeW.default(0),
        priceMinorPerMWh: z.int().min(-1_000_000_000).max(1_000_000_000),
      }),
    )
    .default([]),
  /** Fixed loads for economic dispatch, W. */
  loads: z.array(z.strictObject({ bus: busId, W: nonNegativeW })).default([]),
});

export type GridModel = z.output<typeof gridModelStructure>;
export type GridLine = GridModel['lines'][number];

export class GridModelError extends Error {
  constructor(
    readonly where: string,
    readonly problems: readonly string[],
  ) {
    super(`${where}: invalid grid model:\n  - ${problems.join('\n  - ')}`);
    this.name = 'GridModelError';
  }
}

function pathText(path: readonly PropertyKey[], raw: unknown): string {
  // Name list items by their id where they have one: "lines[A-B].x" beats "lines.3.x".
  let node: unknown = raw;
  let out = '';
  for (const key of path) {
    const child: unknown =
      node !== null && typeof node === 'object' ? (node as Record<PropertyKey, unknown>)[key] : undefined;
    if (typeof key === 'number') {
      const id =
        child !== null && typeof child === 'object' ? (child as Record<string, unknown>)['id'] : undefined;
      out += typeof id === 'string' ? `[${id}]` : `[${key}]`;
    } else out += out === '' ? String(key) : `.${String(key)}`;
    node = child;
  }
  return out === '' ? '(top level)' : out;
}

/** Cross-reference checks the schema alone cannot make. */
function referenceProblems(m: GridModel): string[] {
  const out: string[] = [];
  const buses = new Set<string>();
  for (const b of m.buses) {
    if (buses.has(b.id)) out.push(`buses[${b.id}]: bus id is used twice; give each bus its own id`);
    buses.add(b.id);
  }
  const known = (id: string, where: string) => {
    if (!buses.has(id)) out.push(`${where}: bus "${id}" is not in \`buses\`; add it there or fix the name`);
  };
  known(m.slack, 'slack');
  const lineIds = new Set<string>();
  for (const l of m.lines) {
    if (lineIds.has(l.id)) out.push(`lines[${l.id}].id: line id is used twice; give each line its own id`);
    lineIds.add(l.id);
    known(l.from, `lines[${l.id}].from`);
    known(l.to, `lines[${l.id}].to`);
  }
  const pts = new Set<string>();
  for (const p of m.participants) {
    if (pts.has(p.id)) out.push(`participants[${p.id}]: participant is listed twice; keep one entry`);
    pts.add(p.id);
    known(p.bus, `participants[${p.id}].bus`);
  }
  const gens = new Set<string>();
  for (const g of m.generators) {
    if (gens.has(g.id)) out.push(`generators[${g.id}]: generator id is used twice`);
    gens.add(g.id);
    known(g.bus, `generators[${g.id}].bus`);
    if (g.minW > g.maxW) out.push(`generators[${g.id}].minW: is above maxW; lower minW or raise maxW`);
  }
  m.loads.forEach((l, i) => {
    known(l.bus, `loads[${i}].bus`);
  });
  if (out.length === 0) {
    // Every bus must be reachable from the slack, or B is singular and the DC flow is undefined.
    const adj = new Map<string, string[]>();
    for (const l of m.lines) {
      adj.set(l.from, [...(adj.get(l.from) ?? []), l.to]);
      adj.set(l.to, [...(adj.get(l.to) ?? []), l.from]);
    }
    const seen = new Set([m.slack]);
    const stack = [m.slack];
    while (stack.length > 0) {
      const b = stack.pop() as string;
      for (const n of adj.get(b) ?? []) {
        if (!seen.has(n)) {
          seen.add(n);
          stack.push(n);
        }
      }
    }
    const islands = m.buses.filter((b) => !seen.has(b.id)).map((b) => b.id);
    if (islands.length > 0)
      out.push(
        `lines: buses ${islands.join(', ')} are not connected to the slack bus "${m.slack}"; add a line or remove them`,
      );
  }
  return out;
}

/** Checks a parsed (YAML or JSON) value; throws GridModelError naming every bad key. */
export function parseGridModel(raw: unknown, where = 'grid model'): GridModel {
  const r = gridModelStructure.safeParse(raw);
  if (!r.success)
    throw new GridModelError(
      where,
      r.error.issues.map((i) => `${pathText(i.path, raw)}: ${i.message}`),
    );
  const problems = referenceProblems(r.data);
  if (problems.length > 0) throw new GridModelError(where, problems);
  return r.data;
}

/** Parses YAML text into a checked grid model. */
export function parseGridModelYaml(text: string, where = 'grid model'): GridModel {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    throw new GridModelError(where, [`(file): not valid YAML: ${(e as Error).message}`]);
  }
  return parseGridModel(raw, where);
}

/** Reads and checks a grid model file (the I/O edge; everything else here is pure). */
export function readGridModelFile(path: string): GridModel {
  return parseGridModelYaml(readFileSync(path, 'utf8'), path);
}

/** SHA-256 (hex) of the model's canonical JSON: sorted keys, defaults filled in. */
export function gridModelHash(model: GridModel): string {
  return canonicalHashHex(model);
}

/** Per-unit series reactance of a line on the model's base, tap included. */
export function lineReactancePu(model: GridModel, line: GridLine): number {
  const x =
    line.x ?? ((line.xOhm as number) * model.baseMVA) / ((line.baseKV as number) * (line.baseKV as number));
  return x * (line.tap ?? 1);
}

/** The limits of a line in W: from→to and to→from; Infinity where unlimited. */
export function lineLimitsW(line: GridLine): { fromTo: number; toFrom: number } {
  const both =
    line.limitW === undefined || line.limitW === 'unlimited' ? Number.POSITIVE_INFINITY : line.limitW;
  return { fromTo: line.limitFromToW ?? both, toFrom: line.limitToFromW ?? both };
}

/** The bus a participant connects at; throws naming the participant when the model lacks it. */
export function busOfParticipant(model: GridModel, participant: string): string {
  const p = model.participants.find((q) => q.id === participant);
  if (p === undefined)
    throw new Error(
      `participant "${participant}" has no connection bus in grid model "${model.name}"; add it under \`participants\``,
    );
  return p.bus;
}
