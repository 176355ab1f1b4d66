// The validator's policy file: what a registration must show per role and energy type, which
// cases go to a person, the regulated price band per energy type, deposit and lead-time rules for
// contracts, and the congestion method. YAML, checked with zod; every error names the key and says
// how to fix it. The policy hash (SHA-256 of its canonical JSON, defaults filled in) goes into
// every validator decision, so a verifier knows which policy to recompute a decision with.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ENERGY_TYPES, PARTICIPANT_ROLES } from '../../protocol/messages/index.js';
import { SETTLEMENT_PERIODS_MS } from '../../protocol/units.js';
import { canonicalHashB64url } from './congestion/canonical.js';
import { congestionPolicySchema } from './congestion/decision.js';

const name = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'must be 1–64 letters, digits, "_", "." or "-"');
const watts = z.int('must be a whole number of W').min(0, 'must be ≥ 0 W').max(Number.MAX_SAFE_INTEGER);
const minorPerKWh = z
  .int('must be a whole number of minor units per kWh')
  .min(0, 'must be ≥ 0')
  .max(1_000_000_000, 'must be at most 1 000 000 000');
const ms = z
  .int('must be a whole number of milliseconds')
  .min(0, 'must be ≥ 0 ms')
  .max(10 * 366 * 86_400_000);
const energyType = z.enum(ENERGY_TYPES, `must be one of ${ENERGY_TYPES.join(', ')}`);
const role = z.enum(PARTICIPANT_ROLES, `must be one of ${PARTICIPANT_ROLES.join(', ')}`);

/** What one role may register for one energy type. */
const energyRule = z.strictObject({
  /** Largest connection capacity accepted, W. */
  maxCapacityW: watts,
  /** Applications above this capacity go to a person (queued), W. Absent: never for capacity. */
  humanReviewAboveW: watts.optional(),
});

const roleRule = z.strictObject({
  /** The energy types this role may trade, each with its capacity limits. */
  energies: z.partialRecord(energyType, energyRule),
  /** Gateways (meters) an application must name. */
  minGateways: z.int().min(0).max(100).default(1),
  /** "always": every application of this role goes to a person. */
  humanReview: z.enum(['never', 'always'], 'must be "never" or "always"').default('never'),
});

const regionRule = z.strictObject({
  /** The grid nodes (buses) a participant of this region may connect at, or "any". */
  gridNodes: z.union([z.literal('any'), z.array(name).min(1, 'list at least one node, or write "any"')]),
});

const priceBand = z.strictObject({
  floorMinorPerKWh: minorPerKWh,
  capMinorPerKWh: minorPerKWh,
});

const minorPerMWh = z
  .int('must be a whole number of minor units per MW·h')
  .min(0, 'must be ≥ 0')
  .max(1_000_000_000_000, 'must be at most 1 000 000 000 000');

/** Price bounds of flexibility contracts; a bound not given is not checked. */
const flexibilityPrices = z.strictObject({
  /** Bounds of responseMinorPerKWh. */
  response: priceBand.optional(),
  /** Bounds of the availability price: availabilityMinor per MW·h of the larger of its powers. */
  availability: z.strictObject({ floorMinorPerMWh: minorPerMWh, capMinorPerMWh: minorPerMWh }).optional(),
});

const structure = z.strictObject({
  /** The policy format; 1 is the only one so far. */
  version: z.literal(1, 'must be 1 (the only policy format so far)'),
  /** A name for people (e.g. "north-2026-01"). */
  name,
  registration: z.strictObject({
    /** Regions served, each with the grid nodes allowed there. A region not listed is refused. */
    regions: z.record(name, regionRule),
    /** What each role must show. A role not listed may not register. */
    roles: z.partialRecord(role, roleRule),
  }),
  contracts: z.strictObject({
    /** Regulated price band per energy type. An energy type without a band is not traded. */
    prices: z.partialRecord(energyType, priceBand),
    /** Least time between the review and the start of the delivery window. */
    leadTimeMs: ms,
    /** Settlement periods a contract may use (default: every protocol period). */
    settlementPeriodsMs: z
      .array(
        z
          .int()
          .refine(
            (n) => SETTLEMENT_PERIODS_MS.includes(n),
            `must be one of ${SETTLEMENT_PERIODS_MS.join(', ')} ms`,
          ),
      )
      .min(1)
      .default([...SETTLEMENT_PERIODS_MS]),
    /** Longest delivery window, ms. Absent: no limit. */
    maxWindowMs: ms.optional(),
    /** Shortest dispute window a contract may give, ms. */
    minDisputeWindowMs: ms.default(0),
    /** Whether the buyer's deposit must also cover payment for full delivery. */
    buyerDepositCoversPayment: z.boolean('must be true or false').default(true),
    /** Price bounds of flexibility contracts. Absent: their prices are not bounded. */
    flexibility: flexibilityPrices.optional(),
    /**
     * true: the capacity rule adds up a seller's energy and flexibility contracts over each window
     * (docs/validator.md, "Capacity"). Absent or false: each product is checked on its own, as
     * policies written before the key were; no default is filled in, so their hash stays the same.
     */
    capacityAcrossProducts: z.boolean('must be true or false').optional(),
    /** Contracts above this many Wh over their window go to a person. Absent: none. */
    humanReviewAboveWh: z.int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
  }),
  /** How congestion is managed (docs/validator.md, "Congestion"). Absent: no congestion checks. */
  congestion: congestionPolicySchema.optional(),
});

export type ValidatorPolicy = z.output<typeof structure>;
export type ValidatorPolicyInput = z.input<typeof structure>;
export type RoleRule = z.output<typeof roleRule>;

export class PolicyError extends Error {
  constructor(
    readonly where: string,
    readonly problems: readonly string[],
  ) {
    super(`${where}: invalid validator policy:\n  - ${problems.join('\n  - ')}`);
    this.name = 'PolicyError';
  }
}

function pathText(path: readonly PropertyKey[]): string {
  return path.length === 0 ? '(top level)' : path.map(String).join('.');
}

/** Where keys come from a fixed list (roles, energy types), the list, for the error message. */
function allowedKeysAt(path: readonly PropertyKey[]): string | undefined {
  const p = path.map(String);
  if (p.join('.') === 'registration.roles') return `a role: ${PARTICIPANT_ROLES.join(', ')}`;
  if (
    p.join('.') === 'contracts.prices' ||
    (p[0] === 'registration' && p[3] === 'energies' && p.length === 4)
  )
    return `an energy type: ${ENERGY_TYPES.join(', ')}`;
  return undefined;
}

function issueText(i: z.core.$ZodIssue): string {
  if (i.code === 'unrecognized_keys') {
    const allowed = allowedKeysAt(i.path);
    return i.keys
      .map((k) =>
        allowed !== undefined
          ? `${pathText([...i.path, k])}: is not ${allowed}`
          : `${pathText([...i.path, k])}: unknown key; remove it or check its spelling (docs/validator.md lists the keys)`,
      )
      .join('\n  - ');
  }
  if (i.code === 'invalid_type' && i.input === undefined)
    return `${pathText(i.path)}: is required; add it (docs/validator.md, "The policy file")`;
  if (i.code === 'invalid_key') return `${pathText(i.path)}: ${i.issues[0]?.message ?? i.message}`;
  return `${pathText(i.path)}: ${i.message}`;
}

/** Cross-field checks the schema alone cannot make. */
function crossProblems(p: ValidatorPolicy): string[] {
  const out: string[] = [];
  for (const [energy, band] of Object.entries(p.contracts.prices))
    if (band !== undefined && band.floorMinorPerKWh > band.capMinorPerKWh)
      out.push(
        `contracts.prices.${energy}.floorMinorPerKWh: ${band.floorMinorPerKWh} is above the cap ${band.capMinorPerKWh}; lower the floor or raise the cap`,
      );
  const flex = p.contracts.flexibility;
  if (flex?.response !== undefined && flex.response.floorMinorPerKWh > flex.response.capMinorPerKWh)
    out.push(
      `contracts.flexibility.response.floorMinorPerKWh: ${flex.response.floorMinorPerKWh} is above the cap ${flex.response.capMinorPerKWh}; lower the floor or raise the cap`,
    );
  if (
    flex?.availability !== undefined &&
    flex.availability.floorMinorPerMWh > flex.availability.capMinorPerMWh
  )
    out.push(
      `contracts.flexibility.availability.floorMinorPerMWh: ${flex.availability.floorMinorPerMWh} is above the cap ${flex.availability.capMinorPerMWh}; lower the floor or raise the cap`,
    );
  for (const [r, rule] of Object.entries(p.registration.roles)) {
    if (rule === undefined) continue;
    if (Object.keys(rule.energies).length === 0)
      out.push(
        `registration.roles.${r}.energies: names no energy type; add one (e.g. electricity: { maxCapacityW: 30000 }) or remove the role`,
      );
    for (const [e, lim] of Object.entries(rule.energies))
      if (lim?.humanReviewAboveW !== undefined && lim.humanReviewAboveW > lim.maxCapacityW)
        out.push(
          `registration.roles.${r}.energies.${e}.humanReviewAboveW: ${lim.humanReviewAboveW} W is above maxCapacityW ${lim.maxCapacityW} W, so it never applies; lower it or remove it`,
        );
  }
  if (Object.keys(p.registration.regions).length === 0)
    out.push('registration.regions: names no region; add at least one (e.g. north: { gridNodes: any })');
  if (new Set(p.contracts.settlementPeriodsMs).size !== p.contracts.settlementPeriodsMs.length)
    out.push('contracts.settlementPeriodsMs: lists a period twice; keep each once');
  return out;
}

/** Checks a parsed (YAML or JSON) value; throws PolicyError naming every bad key. */
export function parsePolicy(raw: unknown, where = 'validator policy'): ValidatorPolicy {
  // reportInput: so a key given with a wrong type is told apart from a missing one (issueText).
  const r = structure.safeParse(raw, { reportInput: true });
  if (!r.success) throw new PolicyError(where, r.error.issues.map(issueText));
  const problems = crossProblems(r.data);
  if (problems.length > 0) throw new PolicyError(where, problems);
  return r.data;
}

/** Parses YAML text into a checked policy. */
export function parsePolicyYaml(text: string, where = 'validator policy'): ValidatorPolicy {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    throw new PolicyError(where, [`(file): not valid YAML: ${(e as Error).message}`]);
  }
  return parsePolicy(raw, where);
}

/** Reads and checks a policy file (the I/O edge; everything else here is pure). */
export function readPolicyFile(path: string): ValidatorPolicy {
  return parsePolicyYaml(readFileSync(path, 'utf8'), path);
}

/** base64url SHA-256 of the policy's canonical JSON (defaults filled): each decision's policyHash. */
export function policyHashOf(policy: ValidatorPolicy): string {
  return canonicalHashB64url(policy);
}
