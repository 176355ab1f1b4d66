// ReadPlanner: merges the points of a poll into the fewest Modbus read requests the device allows.
//
// Within one function code, points sorted by address form "clusters" (points that share
// registers; such points are always read by the same request). A request always reads a run of consecutive clusters, so planning is a partition of
// the clusters into runs, and a dynamic programme over cut positions finds the best partition
// exactly. Best means, in this order: fewest value/scale-factor pairs split across two requests
// (a value decoded with a scale factor read at another moment can be off by powers of ten), then
// fewest requests, then fewest registers read.
import type { ReadFunction } from './register-source.js';

/** One thing to read: a point's registers. */
export interface PlanItem {
  readonly fn: ReadFunction;
  readonly address: number;
  readonly size: number;
  /** Needed only for `together` constraints and to say which points a request serves. */
  readonly name?: string;
}

/** Registers [start, end) that must never be read (a hole that raises an exception). */
export interface ForbiddenRange {
  readonly start: number;
  readonly end: number;
  /** Applies to one function code only; both when absent. */
  readonly fn?: ReadFunction;
}

export interface PlannerOptions {
  /** Registers per request (Modbus allows 125; some devices fewer). */
  readonly maxRegisters?: number;
  /** Registers between two points that a request may read and discard. Default 0. */
  readonly maxGap?: number;
  /** Addresses b where a request must not span b-1 and b (block boundaries the device refuses). */
  readonly breaks?: readonly number[];
  readonly forbidden?: readonly ForbiddenRange[];
  /** Names of points to read in the same request whenever the layout allows (a value and its sf). */
  readonly together?: readonly (readonly [string, string])[];
}

export interface ReadRequest {
  readonly fn: ReadFunction;
  readonly address: number;
  readonly count: number;
  readonly items: readonly PlanItem[];
}

export interface ReadPlan {
  readonly requests: readonly ReadRequest[];
  /** Registers read in total, gaps included. */
  readonly registers: number;
  /** `together` pairs that had to be split (the layout did not allow one request for both). */
  readonly split: readonly (readonly [string, string])[];
}

export class PlanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlanError';
  }
}

export const MODBUS_MAX_REGISTERS = 125;

interface Cluster {
  start: number;
  end: number;
  items: PlanItem[];
}

type Cost = readonly [splits: number, requests: number, registers: number];

function less(a: Cost, b: Cost): boolean {
  for (let i = 0; i < 3; i++) {
    if ((a[i] as number) !== (b[i] as number)) return (a[i] as number) < (b[i] as number);
  }
  return false;
}

export class ReadPlanner {
  readonly maxRegisters: number;
  readonly maxGap: number;
  private readonly breaks: readonly number[];
  private readonly forbidden: readonly ForbiddenRange[];
  private readonly together: readonly (readonly [string, string])[];

  constructor(opts: PlannerOptions = {}) {
    this.maxRegisters = opts.maxRegisters ?? MODBUS_MAX_REGISTERS;
    this.maxGap = opts.maxGap ?? 0;
    if (
      !Number.isInteger(this.maxRegisters) ||
      this.maxRegisters < 1 ||
      this.maxRegisters > MODBUS_MAX_REGISTERS
    ) {
      throw new PlanError(`maxRegisters must be an integer in 1..125, got ${this.maxRegisters}`);
    }
    if (!Number.isInteger(this.maxGap) || this.maxGap < 0) {
      throw new PlanError(`maxGap must be a non-negative integer, got ${this.maxGap}`);
    }
    this.breaks = [...(opts.breaks ?? [])].sort((a, b) => a - b);
    this.forbidden = opts.forbidden ?? [];
    this.together = opts.together ?? [];
  }

  /** The requests that read every item, and how many registers they read. */
  plan(items: readonly PlanItem[]): ReadPlan {
    const requests: ReadRequest[] = [];
    const split: (readonly [string, string])[] = [];
    for (const fn of [3, 4] as const) {
      const mine = items.filter((i) => i.fn === fn);
      if (mine.length === 0) continue;
      const result = this.planFunction(fn, mine);
      requests.push(...result.requests);
      split.push(...result.split);
    }
    return { requests, registers: requests.reduce((n, r) => n + r.count, 0), split };
  }

  private isForbidden(fn: ReadFunction, start: number, end: number): boolean {
    return this.forbidden.some((f) => (f.fn === undefined || f.fn === fn) && f.start < end && start < f.end);
  }

  /** Whether a request [start, end) would span a break. */
  private crossesBreak(start: number, end: number): boolean {
    return this.breaks.some((b) => b > start && b < end);
  }

  private clusters(fn: ReadFunction, items: readonly PlanItem[]): Cluster[] {
    const sorted = [...items].sort((a, b) => a.address - b.address || b.size - a.size);
    const out: Cluster[] = [];
    for (const item of sorted) {
      if (!Number.isInteger(item.address) || item.address < 0 || item.address + item.size > 0x10000) {
        throw new PlanError(`${item.name ?? 'a point'} at ${item.address}+${item.size} is outside 0..65535`);
      }
      if (!Number.isInteger(item.size) || item.size < 1) {
        throw new PlanError(`${item.name ?? 'a point'} has size ${item.size}`);
      }
      const last = out[out.length - 1];
      if (last !== undefined && item.address < last.end) {
        last.end = Math.max(last.end, item.address + item.size);
        last.items.push(item);
      } else {
        out.push({ start: item.address, end: item.address + item.size, items: [item] });
      }
    }
    for (const c of out) {
      const what = c.items.map((i) => i.name ?? `${i.address}+${i.size}`).join(', ');
      if (c.end - c.start > this.maxRegisters) {
        throw new PlanError(`${what} span ${c.end - c.start} registers, more than one request may read`);
      }
      if (this.isForbidden(fn, c.start, c.end)) throw new PlanError(`${what} lie in a forbidden range`);
      if (this.crossesBreak(c.start, c.end)) throw new PlanError(`${what} cross a block boundary`);
    }
    return out;
  }

  private planFunction(fn: ReadFunction, items: readonly PlanItem[]) {
    const cs = this.clusters(fn, items);
    const n = cs.length;
    // joinable[i]: clusters i and i+1 may share a request (gap small, readable, no break between).
    const joinable = cs.slice(0, -1).map((c, i) => {
      const next = cs[i + 1] as Cluster;
      return (
        next.start - c.end <= this.maxGap &&
        !this.isForbidden(fn, c.end, next.start) &&
        !this.crossesBreak(c.start, next.end)
      );
    });
    const clusterOf = new Map<string, number>();
    cs.forEach((c, i) => {
      for (const it of c.items) if (it.name !== undefined) clusterOf.set(it.name, i);
    });
    const pairs: Array<{ a: number; b: number; names: readonly [string, string] }> = [];
    for (const names of this.together) {
      const x = clusterOf.get(names[0]);
      const y = clusterOf.get(names[1]);
      if (x === undefined || y === undefined || x === y) continue;
      pairs.push({ a: Math.min(x, y), b: Math.max(x, y), names });
    }
    const feasible = (j: number, k: number): boolean => {
      if ((cs[k] as Cluster).end - (cs[j] as Cluster).start > this.maxRegisters) return false;
      for (let i = j; i < k; i++) if (!joinable[i]) return false;
      return true;
    };
    // A pair is counted as split once: by the run that holds its first cluster but not its second.
    const splitsOf = (j: number, k: number) => pairs.filter((p) => p.a >= j && p.a <= k && p.b > k);

    const best: Array<{ cost: Cost; from: number } | undefined> = new Array(n + 1);
    best[0] = { cost: [0, 0, 0], from: -1 };
    for (let end = 1; end <= n; end++) {
      for (let j = end - 1; j >= 0; j--) {
        if (!feasible(j, end - 1)) {
          // Runs only grow longer and less joinable going left: stop at the first that is not.
          break;
        }
        const prev = best[j] as { cost: Cost };
        const regs = (cs[end - 1] as Cluster).end - (cs[j] as Cluster).start;
        const cost: Cost = [
          prev.cost[0] + splitsOf(j, end - 1).length,
          prev.cost[1] + 1,
          prev.cost[2] + regs,
        ];
        const cur = best[end];
        if (cur === undefined || less(cost, cur.cost)) best[end] = { cost, from: j };
      }
    }
    const requests: ReadRequest[] = [];
    const split: (readonly [string, string])[] = [];
    for (let end = n; end > 0; ) {
      const j = (best[end] as { from: number }).from;
      const first = cs[j] as Cluster;
      const last = cs[end - 1] as Cluster;
      requests.unshift({
        fn,
        address: first.start,
        count: last.end - first.start,
        items: cs.slice(j, end).flatMap((c) => c.items),
      });
      split.push(...splitsOf(j, end - 1).map((p) => p.names));
      end = j;
    }
    return { requests, split };
  }
}
