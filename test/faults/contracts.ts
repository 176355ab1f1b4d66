// Participants and contracts for a fault scenario, made the way a household does it: a
// self-signed application and a contract signed by both parties, posted to the hub's API, and
// an operator credit. Reads the results back from the API (the hub's side of the comparison).
import { b64url, generateSecretKey, participantIdOf, publicKeyOf } from '../../protocol/index.js';
import {
  type EnergyContract,
  PARTICIPANT_APPLICATION_TYP,
  signContract,
  signMessage,
} from '../../protocol/messages/index.js';
import type { Account } from './balances.js';

export interface Party {
  secretKey: Uint8Array;
  publicKey: Uint8Array;
  id: string;
}

export function newParty(): Party {
  const secretKey = generateSecretKey();
  const publicKey = publicKeyOf(secretKey);
  return { secretKey, publicKey, id: participantIdOf(publicKey) };
}

async function post(url: string, body: unknown, token?: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

/** Applies as a household with these gateways, and gets `creditMinor` from the operator. */
export async function registerAndFund(
  httpUrl: string,
  operatorToken: string,
  p: Party,
  gateways: string[],
  creditMinor: number,
): Promise<void> {
  const jws = signMessage(
    PARTICIPANT_APPLICATION_TYP,
    p.id,
    {
      participant: p.id,
      publicKey: b64url.encode(p.publicKey),
      role: 'household',
      energies: ['electricity'],
      region: 'north',
      gridNode: 'bus-1',
      gateways: [...gateways].sort(),
      capacityW: 10_000,
      at: Date.now(),
    },
    p.secretKey,
  );
  const applied = await post(`${httpUrl}/v1/participants`, { jws });
  if (applied.status !== 201)
    throw new Error(`application: ${applied.status} ${JSON.stringify(applied.body)}`);
  const credit = await post(
    `${httpUrl}/v1/credits`,
    { account: p.id, amountMinor: creditMinor, reference: `bank-${p.id}` },
    operatorToken,
  );
  if (credit.status !== 201) throw new Error(`credit: ${credit.status} ${JSON.stringify(credit.body)}`);
}

/** Posts a contract signed by seller then buyer; returns its id. */
export async function postContract(
  httpUrl: string,
  contract: EnergyContract,
  seller: Party,
  buyer: Party,
): Promise<string> {
  const signed = signContract(signContract(contract, seller.id, seller.secretKey), buyer.id, buyer.secretKey);
  const r = await post(`${httpUrl}/v1/contracts`, signed);
  if (r.status !== 201) throw new Error(`contract: ${r.status} ${JSON.stringify(r.body)}`);
  return (r.body as { contract: string }).contract;
}

export async function participantStatus(httpUrl: string, id: string): Promise<string | undefined> {
  const res = await fetch(`${httpUrl}/v1/participants/${id}`);
  if (res.status !== 200) return undefined;
  return ((await res.json()) as { participant: { status: string } }).participant.status;
}

export async function contractStatus(httpUrl: string, id: string): Promise<string | undefined> {
  const res = await fetch(`${httpUrl}/v1/contracts/${id}`);
  if (res.status !== 200) return undefined;
  return ((await res.json()) as { contract: { status: string } }).contract.status;
}

/** The hub's accounts, as its API reports them. */
export async function hubAccounts(httpUrl: string, ids: string[]): Promise<Map<string, Account>> {
  const out = new Map<string, Account>();
  for (const id of ids) {
    const res = await fetch(`${httpUrl}/v1/accounts/${id}`);
    if (res.status !== 200) throw new Error(`account ${id}: ${res.status} ${await res.text()}`);
    const a = (await res.json()) as Account;
    out.set(id, { available: a.available, escrow: a.escrow });
  }
  return out;
}
