// The schema of a device profile (a YAML file under devices/). Documented for installers and
// profile authors in docs/device-profiles.md; keep the two in step.
import { z } from 'zod';
import { POINT_TYPES } from '../points.js';

const fn = z.union([z.literal(3), z.literal(4)], {
  error: 'function is 3 (holding registers) or 4 (input registers)',
});

const address = z
  .number({ error: 'must be a register address, a whole number 0..65535 (hex like 0x0048 is fine)' })
  .int('must be a whole number 0..65535')
  .min(0, 'a register address is 0..65535 (0-based, as sent on the wire)')
  .max(0xffff, 'a register address is 0..65535 (0-based, as sent on the wire)');

const pointType = z.enum(POINT_TYPES, { error: `type is one of ${POINT_TYPES.join(', ')}` });
const wordOrder = z.enum(['big', 'little'], {
  error: 'wordOrder is big (most significant register first) or little (word swapped)',
});
const byteOrder = z.enum(['big', 'little'], {
  error: 'byteOrder is big (Modbus standard) or little (bytes swapped in each register)',
});
const sentinels = z.enum(['sunspec', 'none'], {
  error: 'sentinels is sunspec (0x8000, 0xFFFF… mean "not implemented") or none',
});

const name = z
  .string({ error: 'must be text' })
  .regex(/^[a-z][a-z0-9_]*$/, 'a point name is lower case letters, digits and _ (like import_energy)');

const scale = z
  .number({ error: 'scale is a number the raw value is multiplied by (0.01, 1000, -1…)' })
  .refine((s) => s !== 0 && Number.isFinite(s), 'scale must not be 0');

export const pointSchema = z.strictObject({
  name,
  address,
  function: fn.optional(),
  type: pointType.optional(),
  size: z.number().int().min(1).max(125).optional(),
  wordOrder: wordOrder.optional(),
  byteOrder: byteOrder.optional(),
  sentinels: sentinels.optional(),
  scale: scale.optional(),
  /** Missing is a lint error; null means dimensionless (a power factor). */
  unit: z.string().min(1).nullable().optional(),
  counter: z.boolean().optional(),
  label: z.string().optional(),
});

const identifyRule = z
  .strictObject({
    function: fn.optional(),
    address,
    type: pointType.optional(),
    size: z.number().int().min(1).max(125).optional(),
    wordOrder: wordOrder.optional(),
    byteOrder: byteOrder.optional(),
    equals: z.union([z.number(), z.string()]).optional(),
    oneOf: z
      .array(z.union([z.number(), z.string()]))
      .min(1)
      .optional(),
    min: z.number().optional(),
    max: z.number().optional(),
    startsWith: z.string().min(1).optional(),
  })
  .refine(
    (r) => [r.equals, r.oneOf, r.min, r.max, r.startsWith].some((x) => x !== undefined),
    'an identify rule needs a test: equals, oneOf, min/max or startsWith',
  );

const roleName = name.optional();

export const ROLE_NAMES = [
  'importEnergy',
  'exportEnergy',
  'importVolume',
  'exportVolume',
  'power',
  'soc',
  'pvEnergy',
  'pvPower',
] as const;

/**
 * What a device's energy counters measure. Electricity, heat (Wh of heat from a heat meter's own
 * energy counter) or gas (Wh, or a volume counter the agent turns into Wh with the calorific value
 * the installer declares). The same words as the protocol's energy types.
 */
export const ENERGY_KINDS = ['electricity', 'heat', 'gas'] as const;
export type EnergyKind = (typeof ENERGY_KINDS)[number];

export const profileSchema = z.strictObject({
  profile: z
    .string({ error: 'profile is the profile name, like eastron-sdm630' })
    .regex(/^[a-z0-9][a-z0-9-]*$/, 'a profile name is lower case letters, digits and -'),
  aliases: z.array(z.string().regex(/^[a-z0-9][a-z0-9-]*$/)).optional(),
  manufacturer: z.string().min(1),
  models: z.array(z.string().min(1)).min(1, 'list at least one device model'),
  source: z.string().min(1, 'name the public document the register map comes from'),
  description: z.string().optional(),
  /** What the energy counters measure; absent means electricity. */
  energy: z
    .enum(ENERGY_KINDS, { error: `energy is one of ${ENERGY_KINDS.join(', ')} (absent: electricity)` })
    .optional(),
  defaults: z
    .strictObject({
      function: fn.optional(),
      type: pointType.optional(),
      wordOrder: wordOrder.optional(),
      byteOrder: byteOrder.optional(),
      sentinels: sentinels.optional(),
    })
    .optional(),
  maxRegisters: z.number().int().min(1).max(125).optional(),
  maxGap: z.number().int().min(0).max(125).optional(),
  breaks: z.array(address).optional(),
  forbidden: z.array(z.strictObject({ function: fn.optional(), start: address, end: address })).optional(),
  identify: z.array(identifyRule).optional(),
  roles: z
    .strictObject({
      importEnergy: roleName,
      exportEnergy: roleName,
      importVolume: roleName,
      exportVolume: roleName,
      power: roleName,
      soc: roleName,
      pvEnergy: roleName,
      pvPower: roleName,
    })
    .optional(),
  points: z.array(pointSchema).min(1, 'a profile needs at least one point'),
});

export type ProfileDocument = z.infer<typeof profileSchema>;
export type ProfilePointDocument = z.infer<typeof pointSchema>;
export type IdentifyRule = z.infer<typeof identifyRule>;
export type RoleName = (typeof ROLE_NAMES)[number];
