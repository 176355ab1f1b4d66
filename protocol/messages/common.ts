// Building blocks shared by every message schema: integer kinds, ids, hashes, intervals, the
// chain fields, and the parse result that names each bad field in words a person can act on.
import { z } from 'zod';
import type { IdKind } from '../identity.js';
import { SETTLEMENT_PERIODS_MS } from '../units.js';

/** Latest time a payload may name: 9999-12-31T23:59:59.999Z. Anything later is a unit mistake. */
export const MAX_UTC_MS = 253_402_300_799_999;

/** Any safe integer (zod 4's `z.int()` is bounded to ±(2^53 − 1)). */
export const safeInt = z.int();
/** A safe integer ≥ 0: counters, sequence numbers, sizes, money, energy. */
export const nonNegativeInt = z.int().min(0, 'must be an integer ≥ 0');
/** A safe integer ≥ 1. */
export const positiveInt = z.int().min(1, 'must be an integer ≥ 1');
/** A UTC time in integer milliseconds since 1970-01-01T00:00:00Z. */
export const utcMs = z
  .int()
  .min(0, 'must be UTC milliseconds since 1970 (≥ 0)')
  .max(
    MAX_UTC_MS,
    'must be UTC milliseconds since 1970, not later than year 9999 (seconds or µs by mistake?)',
  );

/** kind + '-' + 16 lowercase RFC 4648 base32 characters (80 bits of SHA-256 of the public key). */
export const ID_PATTERNS: Record<IdKind, RegExp> = {
  gw: /^gw-[a-z2-7]{16}$/,
  pt: /^pt-[a-z2-7]{16}$/,
  hub: /^hub-[a-z2-7]{16}$/,
  val: /^val-[a-z2-7]{16}$/,
  op: /^op-[a-z2-7]{16}$/,
};

/** Any key id, of any kind. */
export const ANY_ID_PATTERN = /^(gw|pt|hub|val|op)-[a-z2-7]{16}$/;

export function idOf(kind: IdKind) {
  return z
    .string()
    .regex(ID_PATTERNS[kind], `must be a ${kind} id: "${kind}-" followed by 16 characters a-z or 2-7`);
}

export const gatewayId = idOf('gw');
export const participantId = idOf('pt');
export const hubId = idOf('hub');
export const validatorId = idOf('val');
export const anyId = z
  .string()
  .regex(ANY_ID_PATTERN, 'must be a key id such as "gw-…", "pt-…", "hub-…", "val-…" or "op-…"');

/**
 * base64url (RFC 4648 §5, no padding) of exactly 32 bytes: 43 characters whose last one carries
 * 2 zero padding bits, so every 32-byte value has exactly one accepted spelling.
 */
export const B64URL_32_PATTERN = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;

/** A SHA-256 digest as base64url, no padding (43 characters). */
export const hash32 = z
  .string()
  .regex(B64URL_32_PATTERN, 'must be a SHA-256 hash: 43 base64url characters without padding');

/** A raw 32-byte Ed25519 public key as base64url, no padding. */
export const publicKey32 = z
  .string()
  .regex(B64URL_32_PATTERN, 'must be a raw Ed25519 public key: 43 base64url characters without padding');

/** A contract id: "ct-" + base64url(SHA-256 of the contract's payload bytes). */
export const CONTRACT_ID_PATTERN = /^ct-[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;
export const contractId = z
  .string()
  .regex(CONTRACT_ID_PATTERN, 'must be a contract id: "ct-" followed by 43 base64url characters');

/** Config names (meters, devices, points, regions): short, printable, safe in an MQTT topic. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
export const name = z
  .string()
  .regex(
    NAME_PATTERN,
    'must be 1–64 characters: letters, digits, "_", "." or "-", starting with a letter or digit',
  );

/** Free text that is printed to people: no control characters, bounded. */
export function text(max: number) {
  return z
    .string()
    .min(1, 'must not be empty')
    .max(max, `must be at most ${max} characters`)
    .regex(/^[^\p{Cc}]*$/u, 'must not contain control characters (newlines, tabs, NUL…)');
}

/** A nonce: 16 to 64 base64url characters (≥ 96 random bits are recommended). */
export const nonce = z
  .string()
  .regex(/^[A-Za-z0-9_-]{16,64}$/, 'must be 16–64 base64url characters (a random nonce)');

/** A reason for a refusal or decision: a stable machine code and a sentence for people. */
export const reason = z.strictObject({
  code: z
    .string()
    .regex(/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/, 'must be a kebab-case code such as "price-above-cap"')
    .max(64, 'must be at most 64 characters'),
  message: text(500),
});
export type Reason = z.infer<typeof reason>;

/** The energy carriers Wattproof trades. Every quantity is in Wh whatever the carrier. */
export const ENERGY_TYPES = ['electricity', 'heat', 'gas'] as const;
export const energyType = z.enum(ENERGY_TYPES);
export type EnergyType = z.infer<typeof energyType>;

/** A half-open time interval [start, end) in UTC ms. */
export const interval = z.strictObject({ start: utcMs, end: utcMs });
export type Interval = z.infer<typeof interval>;

/** A pair of cumulative counter readings at the start and the end of an interval. */
export const counterPair = z.strictObject({ start: nonNegativeInt, end: nonNegativeInt });
export type CounterPair = z.infer<typeof counterPair>;

/**
 * The fields every chained gateway message carries: one chain per gateway, across every chained
 * message type. seq 0 has prev null; seq n > 0 has prev = base64url(messageHash(message n − 1)).
 */
export const chainFields = {
  gw: gatewayId,
  seq: nonNegativeInt,
  prev: hash32.nullable(),
};

export interface ChainFields {
  gw: string;
  seq: number;
  prev: string | null;
}

// ---------------------------------------------------------------------------------------------
// Cross-field rules

/** One problem found by a cross-field rule: where (path segments) and what. */
export interface RuleIssue {
  path: (string | number)[];
  message: string;
}

/** Wrap rule functions as a zod refinement that runs only on a structurally valid value. */
export function withRules<S extends z.ZodType>(schema: S, rules: (value: z.output<S>) => RuleIssue[]) {
  return schema.superRefine(
    (value, ctx) => {
      for (const issue of rules(value))
        ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path });
    },
    { when: (payload) => payload.issues.length === 0 },
  );
}

/** seq 0 ⇔ prev null. */
export function chainRules(v: ChainFields): RuleIssue[] {
  if (v.seq === 0 && v.prev !== null)
    return [{ path: ['prev'], message: 'must be null at seq 0 (the first message of a gateway chain)' }];
  if (v.seq > 0 && v.prev === null)
    return [
      { path: ['prev'], message: `must be the hash of message seq ${v.seq - 1}; only seq 0 has prev null` },
    ];
  return [];
}

/** end > start. */
export function intervalOrderRules(iv: Interval, path: (string | number)[]): RuleIssue[] {
  if (iv.end <= iv.start) return [{ path: [...path, 'end'], message: 'must be after start' }];
  return [];
}

/** The interval is exactly one settlement period long and starts on a multiple of it. */
export function settlementIntervalRules(iv: Interval, path: (string | number)[]): RuleIssue[] {
  const order = intervalOrderRules(iv, path);
  if (order.length > 0) return order;
  const length = iv.end - iv.start;
  if (!SETTLEMENT_PERIODS_MS.includes(length))
    return [
      {
        path,
        message: `must be one settlement period long (${SETTLEMENT_PERIODS_MS.join(', ')} ms); got ${length} ms`,
      },
    ];
  if (iv.start % length !== 0)
    return [
      { path: [...path, 'start'], message: `must be aligned to the ${length} ms settlement period (UTC)` },
    ];
  return [];
}

/** A window of whole settlement periods: start and end multiples of `periodMs`, end > start. */
export function alignedWindowRules(iv: Interval, periodMs: number, path: (string | number)[]): RuleIssue[] {
  const order = intervalOrderRules(iv, path);
  if (order.length > 0) return order;
  const out: RuleIssue[] = [];
  if (iv.start % periodMs !== 0)
    out.push({
      path: [...path, 'start'],
      message: `must be aligned to the ${periodMs} ms settlement period`,
    });
  if (iv.end % periodMs !== 0)
    out.push({ path: [...path, 'end'], message: `must be aligned to the ${periodMs} ms settlement period` });
  return out;
}

/** Strings unique and in ascending code-unit order, so one set has one spelling. */
export function sortedUniqueRules(values: readonly string[], path: (string | number)[]): RuleIssue[] {
  for (let i = 1; i < values.length; i++) {
    const a = values[i - 1] as string;
    const b = values[i] as string;
    if (a === b) return [{ path: [...path, i], message: `"${b}" appears twice; each value may appear once` }];
    if (a > b)
      return [{ path: [...path, i], message: `must be sorted ascending ("${b}" comes before "${a}")` }];
  }
  return [];
}

/** Values unique (order free). */
export function uniqueRules(values: readonly string[], path: (string | number)[]): RuleIssue[] {
  const seen = new Set<string>();
  for (const [i, v] of values.entries()) {
    if (seen.has(v))
      return [{ path: [...path, i], message: `"${v}" appears twice; each value may appear once` }];
    seen.add(v);
  }
  return [];
}

// ---------------------------------------------------------------------------------------------
// Parsing

/** One problem with a payload: the dotted path of the field ('' = the payload itself) and why. */
export interface ParseIssue {
  path: string;
  message: string;
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; issues: ParseIssue[] };

function describe(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => `"${k}"`).join(', ');
    return `unknown field${issue.keys.length > 1 ? 's' : ''} ${keys}: not part of this message type; remove ${issue.keys.length > 1 ? 'them' : 'it'}`;
  }
  if (issue.code === 'invalid_type') {
    if (issue.input === undefined) return `is required (expected ${issue.expected})`;
    if (issue.expected === 'int') return 'must be an integer (no fractions; integer units only)';
    return `must be ${issue.expected === 'array' || issue.expected === 'object' ? 'an' : 'a'} ${issue.expected}`;
  }
  if ((issue.code === 'too_big' || issue.code === 'too_small') && issue.message.startsWith('Too ')) {
    // zod's default wording; say it as a rule instead.
    const bound = issue.code === 'too_big' ? issue.maximum : issue.minimum;
    if (issue.origin === 'int' && Math.abs(Number(bound)) === Number.MAX_SAFE_INTEGER)
      return 'must be a safe integer (|n| ≤ 2^53 − 1)';
    const what = issue.origin === 'array' ? 'items' : issue.origin === 'string' ? 'characters' : '';
    const op = issue.code === 'too_big' ? '≤' : '≥';
    return what ? `must have ${op} ${String(bound)} ${what}` : `must be ${op} ${String(bound)}`;
  }
  return issue.message;
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? String(seg) : `.${String(seg)}`;
  }
  return out;
}

/** Parse with a schema and turn zod's issues into {path, message} a person can act on. */
export function parseWith<S extends z.ZodType>(schema: S, payload: unknown): ParseResult<z.output<S>> {
  const r = schema.safeParse(payload, { reportInput: true });
  if (r.success) return { ok: true, value: r.data };
  return {
    ok: false,
    issues: r.error.issues.map((i) => ({ path: formatPath(i.path), message: describe(i) })),
  };
}

/** One line per issue: `path: message`. */
export function formatIssues(issues: readonly ParseIssue[]): string {
  return issues.map((i) => `${i.path === '' ? '(payload)' : i.path}: ${i.message}`).join('; ');
}
