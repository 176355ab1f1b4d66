// Shared pieces of the contract tests: participants with real keys, their self-signed
// applications, registering and crediting them through the engine's HTTP endpoints, and a
// contract signed by both parties.
import { expect } from 'vitest';
import {
  b64url,
  gatewayIdOf,
  generateSecretKey,
  participantIdOf,
  publicKeyOf,
} from '../../protocol/index.js';
import {
  type Contract,
  type EnergyType,
  type MeterProof,
  PARTICIPANT_APPLICATION_TYP,
  type SignedContract,
  signContract,
  signMessage,
} from '../../protocol/messages/index.js';
import { OPERATOR_TOKEN } from './hub-fixtures.js';

/** A gateway key with its place in its chain and its meter's reading, for proofs built by hand. */
export function meteringGateway() {
  const secretKey = generateSecretKey();
  const publicKey = publicKeyOf(secretKey);
  return { secretKey, publicKey, id: gatewayIdOf(publicKey), seq: 0, prev: null as string | null, wh: 0 };
}
export type MeteringGateway = ReturnType<typeof meteringGateway>;

/**
 * The payload of `g`'s next proof: minute `minute` after `t0` on meter "grid", `imp` Wh imported
 * and `exp` Wh exported, with `over` applied. Moves the meter on; the caller moves the chain on
 * once it has signed and appended the proof.
 */
export function minuteProofPayload(
  g: MeteringGateway,
  t0: number,
  minute: number,
  imp: number,
  exp: number,
  over: Partial<MeterProof> = {},
): MeterProof {
  const M = 60_000;
  const start = t0 + minute * M;
  const payload: MeterProof = {
    gw: g.id,
    seq: g.seq,
    prev: g.prev,
    meter: { id: 'grid', serial: 'SN-1' },
    energy: 'electricity',
    interval: { start, end: start + M },
    importWh: { start: 1000 + g.wh, end: 1000 + g.wh + imp },
    exportWh: { start: 5000 + g.wh, end: 5000 + g.wh + exp },
    samples: 12,
    expectedSamples: 12,
    flags: [],
    signedAt: start + M + 1000,
    ...over,
  };
  g.wh += Math.max(imp, exp);
  return payload;
}

export interface Party {
  readonly id: string;
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
}

/** A participant with a fresh key. */
export function party(): Party {
  const secretKey = generateSecretKey();
  const publicKey = publicKeyOf(secretKey);
  return { secretKey, publicKey, id: participantIdOf(publicKey) };
}

export interface ApplicationTerms {
  /** The gateways that meter the participant, in the order the application lists them. */
  gateways: readonly string[];
  at: number;
  energies?: EnergyType[];
  capacityW?: number;
  /** The key that signs it; the participant's own unless a test forges one. */
  signer?: Uint8Array;
}

/** A household's self-signed application in region north at bus-1 (electricity, 10 kW unless told). */
export function participantApplication(p: Party, terms: ApplicationTerms): string {
  return signMessage(
    PARTICIPANT_APPLICATION_TYP,
    p.id,
    {
      participant: p.id,
      publicKey: b64url.encode(p.publicKey),
      role: 'household',
      energies: terms.energies ?? ['electricity'],
      region: 'north',
      gridNode: 'bus-1',
      gateways: [...terms.gateways],
      capacityW: terms.capacityW ?? 10_000,
      at: terms.at,
    },
    terms.signer ?? p.secretKey,
  );
}

/** POSTs JSON to the engine's HTTP endpoints (with the operator's token when given). */
export type PostJson = (
  path: string,
  body: unknown,
  token?: string,
) => Promise<{ status: number; body: Record<string, unknown> }>;

/** A PostJson to the endpoints under `baseUrl` (a getter when the URL is known only later). */
export function postJsonTo(baseUrl: string | (() => string)): PostJson {
  return async (path, body, token) => {
    const base = typeof baseUrl === 'string' ? baseUrl : baseUrl();
    const res = await fetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
}

/**
 * Each participant in turn applies (POST /v1/participants) and the operator credits it
 * `amountMinor` (POST /v1/credits); both must be accepted. `clock` dates each application.
 */
export async function participantsWithCredit(
  post: PostJson,
  members: readonly { party: Party; gateways: readonly string[] }[],
  terms: { amountMinor: number; clock: () => number; energies?: EnergyType[]; capacityW?: number },
): Promise<void> {
  for (const { party: p, gateways } of members) {
    const jws = participantApplication(p, {
      gateways,
      at: terms.clock(),
      energies: terms.energies,
      capacityW: terms.capacityW,
    });
    expect((await post('/v1/participants', { jws })).status).toBe(201);
    const credit = await post(
      '/v1/credits',
      { account: p.id, amountMinor: terms.amountMinor, reference: `bank-${p.id}` },
      OPERATOR_TOKEN,
    );
    expect(credit.status, JSON.stringify(credit.body)).toBe(201);
  }
}

/** The contract signed by the seller, then by the buyer. */
export function signBothParties(contract: Contract, seller: Party, buyer: Party): SignedContract {
  return signContract(signContract(contract, seller.id, seller.secretKey), buyer.id, buyer.secretKey);
}
