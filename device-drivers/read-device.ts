// `read`: every point of one device, decoded. A SunSpec device describes itself (discovery); any
// other device needs a profile, named or found by its identification rules.
import {
  type DeviceReading,
  describeSunSpecDevice,
  planReads,
  readDevicePoints,
  readingToJson,
} from './device-reader.js';
import type { PointDef, PointValue } from './points.js';
import { identifyProfiles, loadProfiles, type Profile } from './profiles/loader.js';
import type { RegisterSource } from './register-source.js';

export interface ReadDeviceOptions {
  /** Read with this profile instead of discovering SunSpec. */
  profile?: Profile;
  /** Profiles to try when the device has no SunSpec (default: the shipped ones). */
  profiles?: readonly Profile[];
}

export interface DeviceRead {
  /** `sunspec` (with its base) or the profile's name. */
  source: { kind: 'sunspec'; base: number; models: number[] } | { kind: 'profile'; name: string };
  points: readonly PointDef[];
  reading: DeviceReading;
  /** Requests the read planner chose for all points (the minimum for the layout). */
  plannedRequests: number;
}

export class DeviceNotIdentifiedError extends Error {
  constructor(unit: number) {
    super(
      `unit ${unit} has no SunSpec marker (at 40000, 0 or 50000) and matches no device profile; ` +
        'name its profile with --profile <name>',
    );
    this.name = 'DeviceNotIdentifiedError';
  }
}

export async function readDevice(
  source: RegisterSource,
  unit: number,
  options: ReadDeviceOptions = {},
): Promise<DeviceRead> {
  let profile = options.profile;
  if (profile === undefined) {
    const sunspec = await describeSunSpecDevice(source, unit);
    if (sunspec !== null) {
      const reading = await readDevicePoints(source, unit, sunspec);
      return {
        source: { kind: 'sunspec', base: sunspec.base, models: sunspec.models.map((m) => m.id) },
        points: sunspec.points,
        reading,
        plannedRequests: planReads(sunspec.points, sunspec.planner).requests.length,
      };
    }
    [profile] = await identifyProfiles(source, unit, options.profiles ?? loadProfiles());
    if (profile === undefined) throw new DeviceNotIdentifiedError(unit);
  }
  const reading = await readDevicePoints(source, unit, profile);
  return {
    source: { kind: 'profile', name: profile.name },
    points: profile.points,
    reading,
    plannedRequests: planReads(profile.points, profile.planner).requests.length,
  };
}

/** `read --json`: `{ "<point>": { "value": ..., "unit": ... } }`, scale factors applied. */
export function deviceReadJson(read: DeviceRead): Record<string, { value: PointValue; unit: string | null }> {
  return readingToJson(read.reading);
}

/** `read` without --json: one aligned line per point. */
export function deviceReadTable(read: DeviceRead): string {
  const rows = read.points.map((p) => {
    const r = read.reading.points[p.name];
    const value = r === undefined || r.value === null ? (r?.error ? 'error' : '—') : String(r.value);
    return [p.name, value, r?.unit ?? '', p.label ?? ''];
  });
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((row) => (row[i] ?? '').length), 5));
  const line = (row: string[]) =>
    `${(row[0] ?? '').padEnd(widths[0] ?? 0)}  ${(row[1] ?? '').padStart(widths[1] ?? 0)}  ${(row[2] ?? '').padEnd(widths[2] ?? 0)}  ${row[3] ?? ''}`.trimEnd();
  return [line(['point', 'value', 'unit', 'label']), ...rows.map(line)].join('\n');
}
