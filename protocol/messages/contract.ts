// The contract between a seller and a buyer, and how both sign it. Both parties sign the same
// payload bytes: a signed contract is a JWS in the general JSON serialisation (RFC 7515 §7.2.1)
// with exactly two signatures, the seller's first and the buyer's second. In the ledger it is two
// leaves, each the compact JWS of one signature over the same payload segment.
import { z } from 'zod';
import { b64url, utf8 } from '../bytes.js';
import { sha256 } from '../hash.js';
import { canonicalJson, type JwsHeader, type JwsRejectReason, signingInput, verifyJws } from '../jws.js';
import { signBytes } from '../keys.js';
import { SETTLEMENT_PERIODS_MS } from '../units.js';
import {
  alignedWindowRules,
  energyType,
  formatIssues,
  gatewayId,
  interval,
  name,
  nonce,
  nonNegativeInt,
  type ParseIssue,
  parseWith,
  participantId,
  positiveInt,
  type RuleIssue,
  utcMs,
  withRules,
} from './common.js';
import { currency } from './price.js';

export const CONTRACT_TYP = 'wattproof.contract.v1';

export const deliveryPoint = z.strictObject({ gw: gatewayId, meter: name });
export type DeliveryPoint = z.infer<typeof deliveryPoint>;

const common = {
  seller: participantId,
  buyer: participantId,
  energy: energyType,
  /** The settlement period the window is divided into, ms. */
  settlementPeriodMs: z
    .int()
    .refine(
      (n) => SETTLEMENT_PERIODS_MS.includes(n),
      `must be one of ${SETTLEMENT_PERIODS_MS.join(', ')} ms`,
    ),
  /** Delivery window [start, end), aligned to settlementPeriodMs. */
  window: interval,
  currency,
  /** The meters whose proofs settle the contract, per side. */
  deliveryPoints: z.strictObject({
    seller: z.array(deliveryPoint).min(1, 'must name at least one delivery point').max(100),
    buyer: z.array(deliveryPoint).min(1, 'must name at least one delivery point').max(100),
  }),
  /** Money each party escrows while the contract is active, minor units. */
  deposits: z.strictObject({ seller: nonNegativeInt, buyer: nonNegativeInt }),
  /** How long after settlement either party may open a dispute, ms. */
  disputeWindowMs: nonNegativeInt,
  /** The grid region (for prices and congestion), when given. */
  region: name.optional(),
  nonce,
  createdAt: utcMs,
};

const energyContract = z.strictObject({
  product: z.literal('energy'),
  ...common,
  /** Energy the seller delivers: `wh` in every settlement interval, or over the whole window. */
  quantity: z.strictObject({ wh: positiveInt, per: z.enum(['interval', 'window']) }),
  /** Price, minor currency units per kWh. */
  priceMinorPerKWh: nonNegativeInt,
  /** What the seller owes per kWh not delivered, minor units. */
  penaltyMinorPerKWh: nonNegativeInt,
});

/** Flexibility (ancillary service): the right to call for charge or discharge power in the window. */
const flexibilityContract = z.strictObject({
  product: z.literal('flexibility'),
  ...common,
  /** Most discharge (+) and charge (−, given as a magnitude) power the buyer may call for, W. */
  maxDischargeW: nonNegativeInt,
  maxChargeW: nonNegativeInt,
  /** Paid for being available over the whole window, minor units. */
  availabilityMinor: nonNegativeInt,
  /** Paid per kWh of response delivered, minor units. */
  responseMinorPerKWh: nonNegativeInt,
  /** Owed per kWh of response called for and not delivered, minor units. */
  penaltyMinorPerKWh: nonNegativeInt,
});

const structure = z.discriminatedUnion('product', [energyContract, flexibilityContract]);

function rules(v: z.output<typeof structure>): RuleIssue[] {
  const out = alignedWindowRules(v.window, v.settlementPeriodMs, ['window']);
  for (const side of ['seller', 'buyer'] as const) {
    const seen = new Set<string>();
    v.deliveryPoints[side].forEach((p, i) => {
      const key = `${p.gw}/${p.meter}`;
      if (seen.has(key)) out.push({ path: ['deliveryPoints', side, i], message: `${key} is named twice` });
      seen.add(key);
    });
  }
  if (v.product === 'flexibility' && v.maxChargeW === 0 && v.maxDischargeW === 0)
    out.push({ path: ['maxDischargeW'], message: 'maxDischargeW or maxChargeW must be above 0' });
  return out;
}

export const contractSchema = withRules(structure, rules);
export type Contract = z.output<typeof contractSchema>;
export type EnergyContract = Extract<Contract, { product: 'energy' }>;
export type FlexibilityContract = Extract<Contract, { product: 'flexibility' }>;

export function parseContract(payload: unknown) {
  return parseWith(contractSchema, payload);
}

// ---------------------------------------------------------------------------------------------
// Two signatures over one payload

/** RFC 7515 §7.2.1 general JWS JSON serialisation, restricted to protected headers only. */
export interface SignedContract {
  payload: string;
  signatures: { protected: string; signature: string }[];
}

const b64urlSegment = z.string().regex(/^[A-Za-z0-9_-]+$/, 'must be base64url without padding');
export const signedContractSchema = z.strictObject({
  payload: b64urlSegment,
  signatures: z
    .array(z.strictObject({ protected: b64urlSegment, signature: b64urlSegment }))
    .min(1)
    .max(2, 'a contract has exactly two signatures: the seller’s and the buyer’s'),
});

/** The contract id: "ct-" + base64url(SHA-256(payload bytes)), the bytes both parties sign. */
export function contractIdOf(signedOrPayloadSegment: SignedContract | string): string {
  const segment =
    typeof signedOrPayloadSegment === 'string' ? signedOrPayloadSegment : signedOrPayloadSegment.payload;
  return `ct-${b64url.encode(sha256(b64url.decode(segment)))}`;
}

/** The payload segment of a contract: base64url of its JSON text (JSON.stringify once). */
export function contractPayloadSegment(contract: Contract): string {
  return b64url.encode(utf8(canonicalJson(contract)));
}

function signSegment(
  payloadSegment: string,
  kid: string,
  secretKey: Uint8Array,
): { protected: string; signature: string } {
  // Sign the payload segment as received (not a re-serialised value), so the second party signs
  // exactly the bytes the first one did. The header is the one signJws writes.
  const header: JwsHeader = { alg: 'EdDSA', typ: CONTRACT_TYP, kid };
  const headerSegment = b64url.encode(utf8(canonicalJson(header)));
  const signature = signBytes(signingInput(headerSegment, payloadSegment), secretKey);
  return { protected: headerSegment, signature: b64url.encode(signature) };
}

/**
 * Adds a party's signature. Start with the contract (the seller signs first); the buyer then
 * signs the SignedContract it received, over the same payload bytes.
 */
export function signContract(
  contract: Contract | SignedContract,
  kid: string,
  secretKey: Uint8Array,
): SignedContract {
  if ('signatures' in contract) {
    if (contract.signatures.length >= 2) throw new Error('the contract already has both signatures');
    return {
      payload: contract.payload,
      signatures: [...contract.signatures, signSegment(contract.payload, kid, secretKey)],
    };
  }
  const payload = contractPayloadSegment(contract);
  return { payload, signatures: [signSegment(payload, kid, secretKey)] };
}

/** The compact JWS of each signature (what the ledger stores, one leaf each). */
export function contractCompacts(signed: SignedContract): string[] {
  return signed.signatures.map((s) => `${s.protected}.${signed.payload}.${s.signature}`);
}

/** Joins compact JWSs over one payload back into a SignedContract; throws when payloads differ. */
export function signedContractFromCompacts(compacts: readonly string[]): SignedContract {
  const parts = compacts.map((c) => c.split('.'));
  const payload = parts[0]?.[1];
  if (payload === undefined || parts.some((p) => p.length !== 3 || p[1] !== payload))
    throw new Error('the compact JWSs do not share one payload');
  return {
    payload,
    signatures: parts.map((p) => ({ protected: p[0] as string, signature: p[2] as string })),
  };
}

export type SignedContractRejectReason =
  | JwsRejectReason
  | 'malformed-contract'
  | 'signature-count'
  | 'signer-not-party'
  | 'schema';

export type SignedContractCheck =
  | { ok: true; id: string; contract: Contract; complete: boolean }
  | { ok: false; reason: SignedContractRejectReason; detail: string; issues?: ParseIssue[] };

/**
 * Verifies a signed contract: its shape, each signature (typ contract, kid the seller for the
 * first and the buyer for the second, key from publicKeyFor), and the payload's schema. With
 * `requireBoth` (default) it needs both signatures; otherwise the seller's alone is enough.
 */
export function verifySignedContract(
  signed: unknown,
  publicKeyFor: (kid: string) => Uint8Array | undefined,
  opts: { requireBoth?: boolean } = {},
): SignedContractCheck {
  const shape = signedContractSchema.safeParse(signed);
  if (!shape.success)
    return {
      ok: false,
      reason: 'malformed-contract',
      detail: shape.error.issues.map((i) => i.message).join('; '),
    };
  const s = shape.data;
  if ((opts.requireBoth ?? true) && s.signatures.length !== 2)
    return {
      ok: false,
      reason: 'signature-count',
      detail: `${s.signatures.length} signature; the seller and the buyer both sign`,
    };
  const compacts = contractCompacts(s);
  let contract: Contract | undefined;
  for (const [i, compact] of compacts.entries()) {
    const v = verifyJws(compact, { typ: CONTRACT_TYP, publicKeyFor });
    if (!v.ok) return { ok: false, reason: v.reason, detail: `signature ${i}: ${v.detail}` };
    if (contract === undefined) {
      const parsed = parseContract(v.payload);
      if (!parsed.ok)
        return { ok: false, reason: 'schema', detail: formatIssues(parsed.issues), issues: parsed.issues };
      contract = parsed.value;
    }
    const party = i === 0 ? contract.seller : contract.buyer;
    if (v.header.kid !== party)
      return {
        ok: false,
        reason: 'signer-not-party',
        detail: `signature ${i} is by ${v.header.kid}; it must be the ${i === 0 ? 'seller' : 'buyer'}'s (${party})`,
      };
  }
  return {
    ok: true,
    id: contractIdOf(s),
    contract: contract as Contract,
    complete: s.signatures.length === 2,
  };
}
