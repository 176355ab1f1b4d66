// Reads a set of points from one device through a RegisterSource: plans the requests, sends them
// one after another, decodes every point with its scale factor, and reports per point what went
// wrong. This is what `wattproof-agent read` prints and what the poller builds on.
import { counterUnits, decodePoint, decodeRaw } from './codec.js';
import { type PlannerOptions, type ReadPlan, ReadPlanner, type ReadRequest } from './planner.js';
import type { PointDef, PointValue, RawValue } from './points.js';
import type { ReadFunction, RegisterSource } from './register-source.js';
import { type CommonInfo, type DiscoveryOptions, discoverSunSpec } from './sunspec/discovery.js';
import { type ModelLocation, modelPointDefs, sunspecModel } from './sunspec/index.js';

/** The points a device has and how it may be read. */
export interface DeviceDescription {
  readonly points: readonly PointDef[];
  readonly planner: PlannerOptions;
}

export interface PointReading {
  /** Scaled value (raw × 10^exp), a string, or null (not implemented, or an error). */
  readonly value: PointValue;
  readonly unit: string | null;
  readonly raw: RawValue;
  /** Power of ten applied to raw; null when the scale factor was unavailable. */
  readonly exp: number | null;
  /** Counters only: the value as an exact integer in `unit` (Wh for energy), for signed payloads. */
  readonly integer?: number;
  /** Why the value is missing, when it is missing because of an error rather than the device. */
  readonly error?: string;
  /** The scale factor differs from the one seen at the previous read (given `previousSf`). */
  readonly sfChanged?: boolean;
  /** The value and its scale factor came from different requests (the layout did not allow one). */
  readonly sfSplit?: boolean;
}

export interface DeviceReading {
  readonly points: Readonly<Record<string, PointReading>>;
  /** Requests sent, and how many of them failed. */
  readonly requests: number;
  readonly failedRequests: number;
  /** One line per failed request. */
  readonly errors: readonly string[];
}

export interface ReadOptions {
  /**
   * Scale factors seen at the previous read, by sf point name. readPoints compares against it (to
   * set `sfChanged`) and updates it; keep one map per device across polls.
   */
  readonly previousSf?: Map<string, number | null>;
}

/** The `together` pairs for the planner: every point with its scale-factor point. */
export function scaleFactorPairs(points: readonly PointDef[]): Array<[string, string]> {
  return points.filter((p) => p.sf !== undefined).map((p) => [p.name, p.sf as string]);
}

/** Plans the requests for `points`, keeping each value with its scale factor where possible. */
export function planReads(points: readonly PointDef[], opts: PlannerOptions = {}): ReadPlan {
  const planner = new ReadPlanner({
    ...opts,
    together: [...(opts.together ?? []), ...scaleFactorPairs(points)],
  });
  return planner.plan(points.map((p) => ({ fn: p.fn, address: p.address, size: p.size, name: p.name })));
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Reads `points` with the requests of `plan` (from planReads over the same points, or any plan
 * whose requests cover them) and decodes them. A failed request costs only the points it carried.
 * Scale-factor points a point refers to must be among `points`.
 */
export async function readPoints(
  source: RegisterSource,
  unit: number,
  points: readonly PointDef[],
  plan: ReadPlan,
  opts: ReadOptions = {},
): Promise<DeviceReading> {
  const responses: Array<{ req: ReadRequest; regs: Uint16Array | null; error?: string }> = [];
  const errors: string[] = [];
  for (const req of plan.requests) {
    try {
      const regs = await source.readRegisters(unit, req.fn, req.address, req.count);
      if (regs.length < req.count)
        throw new Error(`short response: ${regs.length} of ${req.count} registers`);
      responses.push({ req, regs });
    } catch (e) {
      const error = `reading ${req.count} register(s) at ${req.address} (fn ${req.fn}) failed: ${errorText(e)}`;
      errors.push(error);
      responses.push({ req, regs: null, error });
    }
  }
  // Where each point's registers came from: the request that covers it.
  const source_ = (p: PointDef) => {
    const i = responses.findIndex(
      (r) =>
        r.req.fn === p.fn && p.address >= r.req.address && p.address + p.size <= r.req.address + r.req.count,
    );
    return i === -1 ? undefined : { index: i, response: responses[i]! };
  };
  const byName = new Map(points.map((p) => [p.name, p]));
  const sfValues = new Map<string, { value: number | null; index: number; error?: string }>();
  const sfOf = (name: string) => {
    const cached = sfValues.get(name);
    if (cached !== undefined) return cached;
    const p = byName.get(name);
    const at = p === undefined ? undefined : source_(p);
    let entry: { value: number | null; index: number; error?: string };
    if (p === undefined || at === undefined) {
      entry = { value: null, index: -1, error: `scale factor ${name} was not read` };
    } else if (at.response.regs === null) {
      entry = { value: null, index: at.index, error: `scale factor ${name}: ${at.response.error}` };
    } else {
      const raw = decodeRaw(p, at.response.regs, p.address - at.response.req.address);
      entry = { value: typeof raw === 'number' ? raw : null, index: at.index };
    }
    sfValues.set(name, entry);
    return entry;
  };

  const out: Record<string, PointReading> = {};
  for (const p of points) {
    const unitName = p.units ?? null;
    const at = source_(p);
    if (at === undefined) {
      out[p.name] = {
        value: null,
        unit: unitName,
        raw: null,
        exp: null,
        error: 'no request in the plan covers it',
      };
      continue;
    }
    if (at.response.regs === null) {
      out[p.name] = { value: null, unit: unitName, raw: null, exp: null, error: at.response.error as string };
      continue;
    }
    let sf: number | null | undefined;
    const extra: { error?: string; sfChanged?: boolean; sfSplit?: boolean } = {};
    if (p.sf !== undefined) {
      const s = sfOf(p.sf);
      sf = s.value;
      if (s.error !== undefined) extra.error = s.error;
      if (s.index !== -1 && s.index !== at.index) extra.sfSplit = true;
      if (opts.previousSf?.has(p.sf) && opts.previousSf.get(p.sf) !== sf) extra.sfChanged = true;
    }
    let decoded: ReturnType<typeof decodePoint>;
    try {
      decoded = decodePoint(p, at.response.regs, p.address - at.response.req.address, sf);
    } catch (e) {
      out[p.name] = { value: null, unit: unitName, raw: null, exp: null, error: errorText(e) };
      continue;
    }
    let integer: number | undefined;
    if (p.counter && decoded.value !== null && decoded.exp !== null && typeof decoded.raw !== 'string') {
      try {
        integer = counterUnits(
          decoded.raw as number | bigint,
          decoded.exp,
          p.type === 'float32' || p.type === 'float64',
        );
      } catch (e) {
        extra.error = errorText(e);
      }
    }
    out[p.name] = {
      value: decoded.value,
      unit: unitName,
      raw: decoded.raw,
      exp: decoded.exp,
      ...(integer !== undefined ? { integer } : {}),
      ...extra,
    };
  }
  if (opts.previousSf !== undefined) {
    for (const [name, s] of sfValues) if (s.error === undefined) opts.previousSf.set(name, s.value);
  }
  return {
    points: out,
    requests: plan.requests.length,
    failedRequests: responses.filter((r) => r.regs === null).length,
    errors,
  };
}

/**
 * Reads the named points of a device (all of them when `names` is absent), adding the scale-factor
 * points they need. Unknown names throw, naming them.
 */
export async function readDevicePoints(
  source: RegisterSource,
  unit: number,
  device: DeviceDescription,
  opts: ReadOptions & { names?: readonly string[] } = {},
): Promise<DeviceReading> {
  const points = selectPoints(device.points, opts.names);
  return readPoints(source, unit, points, planReads(points, device.planner), opts);
}

/** The named points plus the scale-factor points they refer to, in address order. */
export function selectPoints(all: readonly PointDef[], names?: readonly string[]): PointDef[] {
  if (names === undefined) return [...all];
  const byName = new Map(all.map((p) => [p.name, p]));
  const unknown = names.filter((n) => !byName.has(n));
  if (unknown.length > 0) throw new RangeError(`unknown point(s): ${unknown.join(', ')}`);
  const chosen = new Map<string, PointDef>();
  for (const n of names) {
    const p = byName.get(n) as PointDef;
    chosen.set(n, p);
    const sf = p.sf === undefined ? undefined : byName.get(p.sf);
    if (sf !== undefined) chosen.set(sf.name, sf);
  }
  return [...chosen.values()].sort((a, b) => a.fn - b.fn || a.address - b.address);
}

/** `read --json`: each point mapped to its value and unit. */
export function readingToJson(
  reading: DeviceReading,
): Record<string, { value: PointValue; unit: string | null }> {
  const out: Record<string, { value: PointValue; unit: string | null }> = {};
  for (const [name, r] of Object.entries(reading.points)) out[name] = { value: r.value, unit: r.unit };
  return out;
}

export interface SunSpecDescription extends DeviceDescription {
  readonly base: number;
  readonly models: readonly ModelLocation[];
  /** Models found on the device for which the project has no table (listed, not read). */
  readonly unknownModels: readonly number[];
  readonly common: CommonInfo | null;
  readonly warnings: readonly string[];
}

export interface DescribeOptions extends DiscoveryOptions {
  /** Never read across a model boundary (for devices that refuse such requests). Default false. */
  readonly breakAtModels?: boolean;
  readonly maxRegisters?: number;
}

/**
 * Discovers SunSpec on a device and lists the points of every model found, named `<model>.<point>`
 * (a second instance of a model is `<model>#2.<point>`). Returns null if the device has no SunSpec
 * marker at any base. Registers between the marker and the end marker are all readable by the
 * standard, so the planner may read across any gap inside the chain.
 */
export async function describeSunSpecDevice(
  source: RegisterSource,
  unit: number,
  opts: DescribeOptions = {},
): Promise<SunSpecDescription | null> {
  const fn: ReadFunction = opts.fn ?? 3;
  const dev = await discoverSunSpec(source, unit, opts);
  if (dev === null) return null;
  const points: PointDef[] = [];
  const unknownModels: number[] = [];
  const seen = new Map<number, number>();
  for (const loc of dev.models) {
    const def = sunspecModel(loc.id);
    if (def === undefined) {
      unknownModels.push(loc.id);
      continue;
    }
    const n = (seen.get(loc.id) ?? 0) + 1;
    seen.set(loc.id, n);
    points.push(...modelPointDefs(def, loc, { prefix: n === 1 ? String(loc.id) : `${loc.id}#${n}`, fn }));
  }
  const maxRegisters = opts.maxRegisters ?? 125;
  return {
    base: dev.base,
    models: dev.models,
    unknownModels,
    common: dev.common,
    warnings: dev.warnings,
    points,
    planner: {
      maxRegisters,
      maxGap: maxRegisters,
      ...(opts.breakAtModels ? { breaks: dev.models.map((m) => m.address) } : {}),
    },
  };
}
