// Device profiles: YAML files (one per device family) that name a non-SunSpec device's points.
// This module parses and validates them (errors name the file, the key path and what is allowed),
// turns them into the points the reader uses (energy in Wh, power in W), finds the shipped ones,
// and matches a device on the bus to a profile by its identification rules.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { decodeRaw, pointSize } from '../codec.js';
import type { DeviceDescription } from '../device-reader.js';
import type { PlannerOptions } from '../planner.js';
import type { PointDef, PointType } from '../points.js';
import { ModbusExceptionError, ModbusTimeoutError, type RegisterSource } from '../register-source.js';
import {
  type EnergyKind,
  type IdentifyRule,
  type ProfileDocument,
  type ProfilePointDocument,
  pointSchema,
  profileSchema,
  type RoleName,
} from './schema.js';

export class ProfileError extends Error {
  constructor(
    readonly file: string,
    readonly problems: readonly string[],
  ) {
    super(`${file}: invalid device profile\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'ProfileError';
  }
}

/** A validated profile, ready for the reader (it is a DeviceDescription). */
export interface Profile extends DeviceDescription {
  readonly name: string;
  readonly aliases: readonly string[];
  readonly manufacturer: string;
  readonly models: readonly string[];
  readonly source: string;
  readonly description?: string;
  /** What the energy counters measure (electricity unless the profile says heat or gas). */
  readonly energy: EnergyKind;
  /** The file it was loaded from (or the name given to parseProfile). */
  readonly file: string;
  /**
   * Point names by role: importEnergy, exportEnergy (Wh counters), importVolume, exportVolume (gas
   * volume counters, dm³), power (W), soc (%)…
   */
  readonly roles: Readonly<Partial<Record<RoleName, string>>>;
  readonly identify: readonly IdentifyRule[];
  readonly document: ProfileDocument;
}

/**
 * Larger units the loader turns into the base unit, so counters come out in Wh (volume in dm³, that
 * is litres) and power in W.
 */
export const UNIT_PREFIXES: Readonly<Record<string, { unit: string; exp: number }>> = {
  m3: { unit: 'dm3', exp: 3 },
  L: { unit: 'dm3', exp: 0 },
  kWh: { unit: 'Wh', exp: 3 },
  MWh: { unit: 'Wh', exp: 6 },
  kW: { unit: 'W', exp: 3 },
  MW: { unit: 'W', exp: 6 },
  kVA: { unit: 'VA', exp: 3 },
  kVAh: { unit: 'VAh', exp: 3 },
  kvar: { unit: 'var', exp: 3 },
  kVAr: { unit: 'var', exp: 3 },
  kvarh: { unit: 'varh', exp: 3 },
  kVArh: { unit: 'varh', exp: 3 },
};

/** A scale as 10^exp × factor, with factor ±1 whenever the scale is a power of ten. */
export function splitScale(scale: number): { exp: number; factor: number } {
  const abs = Math.abs(scale);
  const k = Math.round(Math.log10(abs));
  if (Number(`1e${k}`) === abs) return { exp: k, factor: Math.sign(scale) };
  return { exp: 0, factor: scale };
}

function formatPath(p: readonly PropertyKey[]): string {
  let out = '';
  for (const k of p) out += typeof k === 'number' ? `[${k}]` : out === '' ? String(k) : `.${String(k)}`;
  return out === '' ? '(top level)' : out;
}

function allowedKeysAt(p: readonly PropertyKey[]): readonly string[] | undefined {
  if (p.length === 0) return Object.keys(profileSchema.shape);
  if (p.length === 2 && p[0] === 'points') return Object.keys(pointSchema.shape);
  if (p.length === 1 && (p[0] === 'defaults' || p[0] === 'roles')) {
    const inner = profileSchema.shape[p[0]].unwrap();
    return Object.keys(inner.shape);
  }
  return undefined;
}

function describeIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((i) => {
    const where = formatPath(i.path);
    if (i.code === 'unrecognized_keys') {
      const allowed = allowedKeysAt(i.path);
      return `${where}: unknown key(s) ${i.keys.map((k) => `"${k}"`).join(', ')}${
        allowed ? `; allowed: ${allowed.join(', ')}` : ''
      }`;
    }
    return `${where}: ${i.message}`;
  });
}

/** Parses and validates a profile's YAML text, or throws ProfileError listing every problem. */
export function parseProfile(text: string, file: string): Profile {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ProfileError(
      file,
      doc.errors.map(
        (e) =>
          `YAML line ${e.linePos?.[0]?.line ?? '?'}: ${(e.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:$/, '')}`,
      ),
    );
  }
  const result = profileSchema.safeParse(doc.toJS());
  if (!result.success) throw new ProfileError(file, describeIssues(result.error.issues));
  return buildProfile(result.data, file);
}

function buildPoint(doc: ProfileDocument, p: ProfilePointDocument): PointDef {
  const d = doc.defaults ?? {};
  const type: PointType = p.type ?? d.type ?? 'uint16';
  const layout = { type, ...(p.size !== undefined ? { size: p.size } : {}) };
  const size = type === 'string' ? (p.size ?? 0) : pointSize(layout);
  const prefix = p.unit ? UNIT_PREFIXES[p.unit] : undefined;
  const { exp, factor } = splitScale(p.scale ?? 1);
  const scaleExp = exp + (prefix?.exp ?? 0);
  return {
    name: p.name,
    fn: p.function ?? d.function ?? 3,
    address: p.address,
    type,
    size,
    wordOrder: p.wordOrder ?? d.wordOrder ?? 'big',
    byteOrder: p.byteOrder ?? d.byteOrder ?? 'big',
    sentinels: p.sentinels ?? d.sentinels ?? 'none',
    units: prefix?.unit ?? p.unit ?? null,
    ...(scaleExp !== 0 ? { scaleExp } : {}),
    ...(factor !== 1 ? { scaleFactor: factor } : {}),
    ...(p.counter ? { counter: true } : {}),
    ...(p.label !== undefined ? { label: p.label } : {}),
  };
}

function buildProfile(doc: ProfileDocument, file: string): Profile {
  const problems: string[] = [];
  doc.points.forEach((p, i) => {
    const type = p.type ?? doc.defaults?.type;
    if (type === 'string' && p.size === undefined) {
      problems.push(`points[${i}].size: a string point needs size (registers)`);
    }
  });
  const names = new Set(doc.points.map((p) => p.name));
  for (const [role, point] of Object.entries(doc.roles ?? {})) {
    if (point !== undefined && !names.has(point)) {
      problems.push(`roles.${role}: no point named "${point}"; points are ${[...names].join(', ')}`);
    }
  }
  if (problems.length > 0) throw new ProfileError(file, problems);
  const planner: PlannerOptions = {
    ...(doc.maxRegisters !== undefined ? { maxRegisters: doc.maxRegisters } : {}),
    maxGap: doc.maxGap ?? 0,
    ...(doc.breaks !== undefined ? { breaks: doc.breaks } : {}),
    ...(doc.forbidden !== undefined
      ? {
          forbidden: doc.forbidden.map((f) => ({
            start: f.start,
            end: f.end,
            ...(f.function !== undefined ? { fn: f.function } : {}),
          })),
        }
      : {}),
  };
  const roles: Partial<Record<RoleName, string>> = {};
  for (const [role, point] of Object.entries(doc.roles ?? {}))
    if (point !== undefined) roles[role as RoleName] = point;
  return {
    name: doc.profile,
    aliases: doc.aliases ?? [],
    manufacturer: doc.manufacturer,
    models: doc.models,
    source: doc.source,
    ...(doc.description !== undefined ? { description: doc.description } : {}),
    energy: doc.energy ?? 'electricity',
    file,
    roles,
    identify: doc.identify ?? [],
    points: doc.points.map((p) => buildPoint(doc, p)),
    planner,
    document: doc,
  };
}

export function loadProfileFile(file: string): Profile {
  return parseProfile(readFileSync(file, 'utf8'), file);
}

/**
 * The folder of the shipped profiles. The YAML files stay in the source tree (tsc does not copy
 * them), so from dist/device-drivers/profiles/ the folder is found three levels up, in the
 * package's own device-drivers/profiles/devices/.
 */
export function shippedProfilesDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [
    path.join(here, 'devices'),
    path.resolve(here, '../../../device-drivers/profiles/devices'),
  ];
  const found = candidates.find((c) => existsSync(c));
  if (found === undefined) throw new Error(`no device profile folder; looked in ${candidates.join(' and ')}`);
  return found;
}

/** Every profile in a folder (default: the shipped ones), sorted by file name. */
export function loadProfiles(dir = shippedProfilesDir()): Profile[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
    .sort()
    .map((f) => loadProfileFile(path.join(dir, f)));
}

/** A profile by name or alias, or throws naming the ones there are. */
export function findProfile(nameOrAlias: string, profiles: readonly Profile[] = loadProfiles()): Profile {
  const found = profiles.find((p) => p.name === nameOrAlias || p.aliases.includes(nameOrAlias));
  if (found === undefined) {
    const known = profiles.map((p) =>
      p.aliases.length > 0 ? `${p.name} (${p.aliases.join(', ')})` : p.name,
    );
    throw new RangeError(`no device profile "${nameOrAlias}"; known: ${known.join(', ')}`);
  }
  return found;
}

async function ruleHolds(source: RegisterSource, unit: number, profile: Profile, rule: IdentifyRule) {
  const d = profile.document.defaults ?? {};
  const type = rule.type ?? d.type ?? 'uint16';
  const layout = {
    type,
    ...(rule.size !== undefined ? { size: rule.size } : {}),
    wordOrder: rule.wordOrder ?? d.wordOrder ?? 'big',
    byteOrder: rule.byteOrder ?? d.byteOrder ?? 'big',
    sentinels: 'none' as const,
  };
  let regs: Uint16Array;
  try {
    regs = await source.readRegisters(
      unit,
      rule.function ?? d.function ?? 3,
      rule.address,
      pointSize(layout),
    );
  } catch (e) {
    if (e instanceof ModbusExceptionError || e instanceof ModbusTimeoutError) return false;
    throw e;
  }
  const raw = decodeRaw(layout, regs);
  const v = typeof raw === 'bigint' ? Number(raw) : raw;
  if (v === null) return false;
  if (rule.equals !== undefined && v !== rule.equals) return false;
  if (rule.oneOf !== undefined && !rule.oneOf.includes(v)) return false;
  if (rule.min !== undefined && !(typeof v === 'number' && v >= rule.min)) return false;
  if (rule.max !== undefined && !(typeof v === 'number' && v <= rule.max)) return false;
  if (rule.startsWith !== undefined && !(typeof v === 'string' && v.startsWith(rule.startsWith)))
    return false;
  return true;
}

/**
 * The profiles whose identification rules all hold for the device at `unit`, the most specific
 * (most rules) first. Profiles without rules never match. Devices that answer alike (Eastron
 * meters share most of their map) can match several; `scan` shows the first, and an installer can
 * name another with `--profile`.
 */
export async function identifyProfiles(
  source: RegisterSource,
  unit: number,
  profiles: readonly Profile[] = loadProfiles(),
): Promise<Profile[]> {
  const matches: Profile[] = [];
  for (const p of profiles) {
    if (p.identify.length === 0) continue;
    let all = true;
    for (const rule of p.identify) {
      if (!(await ruleHolds(source, unit, p, rule))) {
        all = false;
        break;
      }
    }
    if (all) matches.push(p);
  }
  return matches.sort((a, b) => b.identify.length - a.identify.length);
}
