// The shape of the project's SunSpec register tables (one file per model under models/).
import type { PointType } from '../points.js';
import { TYPE_SIZE } from '../points.js';

export interface SunSpecPointDef {
  /** Register offset from the start of its group (the model's ID register for top-level points). */
  readonly offset: number;
  readonly name: string;
  readonly type: PointType;
  readonly size: number;
  /** Name of the scale-factor point (in this group or an enclosing one). */
  readonly sf?: string;
  readonly units?: string;
  readonly mandatory?: boolean;
  readonly writable?: boolean;
  readonly static?: boolean;
  readonly label?: string;
}

export interface SunSpecGroupDef {
  readonly name: string;
  /** A repeating group: the model's length says how many instances follow the fixed block. */
  readonly repeating: boolean;
  readonly points: readonly SunSpecPointDef[];
}

export interface SunSpecModelDef {
  readonly id: number;
  readonly name: string;
  readonly label: string;
  /** The fixed block, starting with ID and L. */
  readonly points: readonly SunSpecPointDef[];
  readonly groups?: readonly SunSpecGroupDef[];
}

type PointOptions = Omit<SunSpecPointDef, 'offset' | 'name' | 'type' | 'size'> & { readonly size?: number };

/** A table row: offset, name, type, and the rest; size defaults to the type's size. */
export function pt(offset: number, name: string, type: PointType, opts: PointOptions = {}): SunSpecPointDef {
  const size = opts.size ?? (type === 'string' ? 0 : TYPE_SIZE[type]);
  return { offset, name, type, ...opts, size };
}
