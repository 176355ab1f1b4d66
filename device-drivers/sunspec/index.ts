// The SunSpec models Wattproof knows, and how a model found on a device becomes a list of points
// with absolute addresses and `<model>.<point>` names.
import type { PointDef } from '../points.js';
import type { ReadFunction } from '../register-source.js';
import { model1 } from './models/model-1.js';
import { model101 } from './models/model-101.js';
import { model102 } from './models/model-102.js';
import { model103 } from './models/model-103.js';
import { model111 } from './models/model-111.js';
import { model112 } from './models/model-112.js';
import { model113 } from './models/model-113.js';
import { model120 } from './models/model-120.js';
import { model124 } from './models/model-124.js';
import { model160 } from './models/model-160.js';
import { model201 } from './models/model-201.js';
import { model202 } from './models/model-202.js';
import { model203 } from './models/model-203.js';
import { model204 } from './models/model-204.js';
import { model211 } from './models/model-211.js';
import { model212 } from './models/model-212.js';
import { model213 } from './models/model-213.js';
import { model214 } from './models/model-214.js';
import { model701 } from './models/model-701.js';
import { model713 } from './models/model-713.js';
import { model802 } from './models/model-802.js';
import type { SunSpecGroupDef, SunSpecModelDef, SunSpecPointDef } from './types.js';

export type { SunSpecGroupDef, SunSpecModelDef, SunSpecPointDef } from './types.js';

const ALL: readonly SunSpecModelDef[] = [
  model1,
  model101,
  model102,
  model103,
  model111,
  model112,
  model113,
  model120,
  model124,
  model160,
  model201,
  model202,
  model203,
  model204,
  model211,
  model212,
  model213,
  model214,
  model701,
  model713,
  model802,
];

/** Every model with a table, by id. */
export const SUNSPEC_MODELS: ReadonlyMap<number, SunSpecModelDef> = new Map(ALL.map((m) => [m.id, m]));

export function sunspecModel(id: number): SunSpecModelDef | undefined {
  return SUNSPEC_MODELS.get(id);
}

/** Registers a block of points spans (they are contiguous, see checkTable). */
export function blockLength(points: readonly SunSpecPointDef[]): number {
  const last = points[points.length - 1];
  return last === undefined ? 0 : last.offset + last.size;
}

/** The repeating group of a model, if it has one (none of the supported models has more than one). */
export function repeatingGroup(def: SunSpecModelDef): SunSpecGroupDef | undefined {
  return def.groups?.find((g) => g.repeating);
}

/** The model length (the L register: registers after ID and L) with `repeats` group instances. */
export function modelLength(def: SunSpecModelDef, repeats = 0): number {
  const group = repeatingGroup(def);
  return blockLength(def.points) - 2 + (group ? repeats * blockLength(group.points) : 0);
}

/**
 * How a model's L splits into the fixed block and group instances. A shorter fixed block than the
 * table's is accepted (older revisions, and the legacy 65-register common model): the points past
 * L are absent. Registers that do not make a whole group instance are ignored and reported.
 */
export function modelShape(
  def: SunSpecModelDef,
  length: number,
): { fixedLength: number; repeats: number; groupLength: number; trailing: number } {
  const fixed = blockLength(def.points) - 2;
  const group = repeatingGroup(def);
  if (length <= fixed || group === undefined) {
    return {
      fixedLength: Math.min(length, fixed),
      repeats: 0,
      groupLength: 0,
      trailing: Math.max(0, length - fixed),
    };
  }
  const groupLength = blockLength(group.points);
  const repeats = Math.floor((length - fixed) / groupLength);
  return { fixedLength: fixed, repeats, groupLength, trailing: length - fixed - repeats * groupLength };
}

const ENERGY_UNITS = new Set(['Wh', 'VAh', 'varh', 'Varh']);
const WIDE_TYPES = new Set(['uint32', 'uint64', 'float32', 'float64']);

/**
 * Whether a SunSpec point is a cumulative counter: the accumulator types, and the energy totals
 * that the float models (111-113, 211-214) and the DER models (701) keep as float or uint64
 * (ratings like 713.WHRtg are uint16 and are not counters).
 */
export function isCounter(p: Pick<SunSpecPointDef, 'type' | 'units'>): boolean {
  return p.type.startsWith('acc') || (WIDE_TYPES.has(p.type) && ENERGY_UNITS.has(p.units ?? ''));
}

/** Where a model sits on a device, as discovery reports it. */
export interface ModelLocation {
  readonly id: number;
  /** Address of the model's ID register. */
  readonly address: number;
  /** The model's L register (registers after ID and L). */
  readonly length: number;
}

/**
 * The points of one model found at `loc`, with absolute addresses and names `<prefix>.<point>`
 * (`203.TotWhImp`), group points as `<prefix>.<group>[<n>].<point>` counting from 1
 * (`160.module[2].DCWH`). Scale-factor links are resolved to full point names. Pad registers are
 * left out (they hold no value). `prefix` defaults to the model id; give `160#2` to a second
 * instance of a model on the same device.
 */
export function modelPointDefs(
  def: SunSpecModelDef,
  loc: ModelLocation,
  opts: { prefix?: string; fn?: ReadFunction } = {},
): PointDef[] {
  const prefix = opts.prefix ?? String(def.id);
  const fn = opts.fn ?? 3;
  const shape = modelShape(def, loc.length);
  const end = loc.address + 2 + loc.length;
  const out: PointDef[] = [];
  const topNames = new Set(def.points.map((p) => p.name));
  const add = (p: SunSpecPointDef, base: number, name: string, sfName: string | undefined) => {
    if (p.type === 'pad') return;
    const address = base + p.offset;
    if (address + p.size > end) return;
    out.push({
      name,
      fn,
      address,
      type: p.type,
      size: p.size,
      units: p.units ?? null,
      ...(sfName !== undefined ? { sf: sfName } : {}),
      ...(isCounter(p) ? { counter: true } : {}),
      ...(p.label !== undefined ? { label: p.label } : {}),
    });
  };
  for (const p of def.points) {
    add(p, loc.address, `${prefix}.${p.name}`, p.sf !== undefined ? `${prefix}.${p.sf}` : undefined);
  }
  const group = repeatingGroup(def);
  if (group !== undefined) {
    const groupNames = new Set(group.points.map((p) => p.name));
    for (let k = 0; k < shape.repeats; k++) {
      const base = loc.address + 2 + shape.fixedLength + k * shape.groupLength;
      const gp = `${prefix}.${group.name}[${k + 1}]`;
      for (const p of group.points) {
        let sfName: string | undefined;
        if (p.sf !== undefined) {
          if (groupNames.has(p.sf)) sfName = `${gp}.${p.sf}`;
          else if (topNames.has(p.sf)) sfName = `${prefix}.${p.sf}`;
        }
        add(p, base, `${gp}.${p.name}`, sfName);
      }
    }
  }
  return out;
}

/**
 * Checks a table's internal consistency: contiguous offsets starting at 0, sizes matching types,
 * ID and L first, every sf link naming a sunssf point. Returns the problems found (empty = fine).
 */
export function checkTable(def: SunSpecModelDef): string[] {
  const problems: string[] = [];
  const blocks: Array<[string, readonly SunSpecPointDef[]]> = [
    [String(def.id), def.points],
    ...(def.groups ?? []).map((g): [string, readonly SunSpecPointDef[]] => [`${def.id}.${g.name}`, g.points]),
  ];
  const sfPoints = new Set(
    blocks.flatMap(([, pts]) => pts.filter((p) => p.type === 'sunssf').map((p) => p.name)),
  );
  for (const [where, pts] of blocks) {
    let next = 0;
    for (const p of pts) {
      if (p.offset !== next) problems.push(`${where}.${p.name}: offset ${p.offset}, expected ${next}`);
      if (!(p.size > 0)) problems.push(`${where}.${p.name}: size ${p.size}`);
      if (p.sf !== undefined && !sfPoints.has(p.sf))
        problems.push(`${where}.${p.name}: sf ${p.sf} is no sunssf point`);
      next = p.offset + p.size;
    }
  }
  if (def.points[0]?.name !== 'ID' || def.points[1]?.name !== 'L')
    problems.push(`${def.id}: must start with ID, L`);
  return problems;
}
