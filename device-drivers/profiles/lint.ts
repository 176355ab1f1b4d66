// The profile linter: what the schema cannot say. Runs over every shipped profile in the tests and
// over any profile an installer writes (`lintProfileText`).
import { type Profile, ProfileError, parseProfile } from './loader.js';
import type { RoleName } from './schema.js';

export interface LintIssue {
  readonly file: string;
  /** Key path in the profile, like points[3].type. */
  readonly path: string;
  readonly message: string;
  /** Errors make a profile wrong; warnings are likely mistakes (a 1-based register number). */
  readonly severity: 'error' | 'warning';
}

/** Types an energy counter may have: wide enough not to wrap within years, and not a code. */
const COUNTER_TYPES = new Set(['acc32', 'acc64', 'uint32', 'uint64', 'int32', 'int64', 'float32', 'float64']);
const ENERGY_UNITS = new Set(['Wh', 'VAh', 'varh']);
/** Volume counters (a gas meter's m³, a heat meter's litres of water) come out in dm³. */
const VOLUME_UNITS = new Set(['dm3']);
const NON_NUMERIC = new Set([
  'string',
  'enum16',
  'enum32',
  'bitfield16',
  'bitfield32',
  'bitfield64',
  'ipaddr',
  'eui48',
]);
/** Types that only make sense inside SunSpec models. */
const SUNSPEC_ONLY = new Set(['sunssf', 'pad', 'count']);

/** Problems in a loaded profile (an empty list means it is fine). */
export function lintProfile(profile: Profile): LintIssue[] {
  const issues: LintIssue[] = [];
  const add = (p: string, message: string) =>
    issues.push({ file: profile.file, path: p, message, severity: 'error' });
  const warn = (p: string, message: string) =>
    issues.push({ file: profile.file, path: p, message, severity: 'warning' });
  const doc = profile.document;

  // Duplicate names.
  const firstIndex = new Map<string, number>();
  doc.points.forEach((p, i) => {
    const first = firstIndex.get(p.name);
    if (first !== undefined) add(`points[${i}].name`, `"${p.name}" is already the name of points[${first}]`);
    else firstIndex.set(p.name, i);
  });

  // Overlapping registers and addresses past the end.
  const pts = profile.points.map((p, i) => ({ p, i }));
  for (const { p, i } of pts) {
    if (p.address + p.size > 0x10000) {
      add(`points[${i}].address`, `${p.name} runs past register 65535 (${p.address}+${p.size})`);
    }
    if (p.fn === 4 && p.address >= 30001 && p.address <= 39999) {
      warn(
        `points[${i}].address`,
        `${p.address} looks like a 1-based "3xxxx" register number; addresses are 0-based (30001 → 0)`,
      );
    }
  }
  const sorted = [...pts].sort((a, b) => a.p.fn - b.p.fn || a.p.address - b.p.address);
  for (let k = 1; k < sorted.length; k++) {
    const prev = sorted[k - 1]!;
    const cur = sorted[k]!;
    if (prev.p.fn === cur.p.fn && cur.p.address < prev.p.address + prev.p.size) {
      add(
        `points[${cur.i}].address`,
        `${cur.p.name} (${cur.p.address}+${cur.p.size}) overlaps ${prev.p.name} (${prev.p.address}+${prev.p.size}) in function ${cur.p.fn}`,
      );
    }
  }

  // Types and units.
  doc.points.forEach((p, i) => {
    const def = profile.points[i]!;
    if (SUNSPEC_ONLY.has(def.type))
      add(`points[${i}].type`, `${def.type} belongs in SunSpec models, not profiles`);
    if (p.unit === undefined && !NON_NUMERIC.has(def.type)) {
      add(`points[${i}].unit`, `${p.name} has no unit (write unit: null for a dimensionless value)`);
    }
    if (p.counter) {
      if (!COUNTER_TYPES.has(def.type)) {
        add(
          `points[${i}].type`,
          `${p.name} is a counter but ${def.type} is not an accumulator type (${[...COUNTER_TYPES].join(', ')})`,
        );
      }
      if (!ENERGY_UNITS.has(def.units ?? '') && !VOLUME_UNITS.has(def.units ?? '')) {
        add(
          `points[${i}].unit`,
          `${p.name} is a counter, its unit must be energy (Wh, kWh, MWh, varh…) or volume (m3, L)`,
        );
      }
      if (def.scaleFactor !== undefined) {
        add(
          `points[${i}].scale`,
          `${p.name} is a counter; its scale must be a positive power of ten so Wh stay exact (got ${p.scale})`,
        );
      }
    }
  });

  // Roles.
  const byName = new Map(profile.points.map((p) => [p.name, p]));
  const counterRole = (role: RoleName, unit: string, what: string) => {
    const name = profile.roles[role];
    if (name === undefined) return;
    const p = byName.get(name);
    if (p === undefined) return;
    if (!p.counter) add(`roles.${role}`, `${name} must be a counter (counter: true)`);
    else if (p.units !== unit) add(`roles.${role}`, `${name} must count ${what} (it is in ${p.units})`);
  };
  counterRole('importEnergy', 'Wh', 'energy: Wh, kWh or MWh');
  counterRole('exportEnergy', 'Wh', 'energy: Wh, kWh or MWh');
  counterRole('importVolume', 'dm3', 'volume: m3 or L');
  counterRole('exportVolume', 'dm3', 'volume: m3 or L');
  const r = profile.roles;
  const volumes = r.importVolume !== undefined || r.exportVolume !== undefined;
  if (volumes && profile.energy !== 'gas') {
    add(
      r.importVolume !== undefined ? 'roles.importVolume' : 'roles.exportVolume',
      'a volume counter stands for energy only for gas: set energy: gas',
    );
  }
  if (volumes && (r.importEnergy !== undefined || r.exportEnergy !== undefined)) {
    add(
      'roles',
      'name energy counters or gas volume counters, not both (the agent would not know which to sign)',
    );
  }
  if (r.importEnergy === undefined && r.exportEnergy === undefined && !volumes) {
    add(
      'roles',
      profile.energy === 'gas'
        ? 'name the gas counters (roles.importVolume / roles.exportVolume, or roles.importEnergy / roles.exportEnergy)'
        : 'name the import or export energy counter (roles.importEnergy / roles.exportEnergy)',
    );
  }
  const unitOf = (role: 'power' | 'soc' | 'pvPower' | 'pvEnergy', want: string) => {
    const name = profile.roles[role];
    const p = name === undefined ? undefined : byName.get(name);
    if (p !== undefined && p.units !== want)
      add(`roles.${role}`, `${name} must be in ${want} (it is in ${p.units})`);
  };
  unitOf('power', 'W');
  unitOf('pvPower', 'W');
  unitOf('soc', '%');
  unitOf('pvEnergy', 'Wh');
  return issues;
}

/** Lints a profile's YAML text: schema errors and lint findings alike, as issues. */
export function lintProfileText(text: string, file: string): LintIssue[] {
  try {
    return lintProfile(parseProfile(text, file));
  } catch (e) {
    if (!(e instanceof ProfileError)) throw e;
    return e.problems.map((p) => {
      const colon = p.indexOf(': ');
      return {
        file,
        path: colon === -1 ? '' : p.slice(0, colon),
        message: colon === -1 ? p : p.slice(colon + 2),
        severity: 'error' as const,
      };
    });
  }
}
