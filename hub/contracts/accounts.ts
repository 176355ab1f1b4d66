// Accounts in integer minor currency units. Money enters only by an operator credit and then only
// moves between buckets and accounts, so Σ (available + escrow) over all accounts always equals
// Σ credits. Every move checks first and refuses what would make a bucket negative; nothing here
// ever creates or destroys money.
import { OK, refuse, type Verdict } from '../participants/registry.js';

export interface Account {
  /** Free to be escrowed. */
  available: number;
  /** Held as deposits of active contracts. */
  escrow: number;
}

export interface AccountsState {
  accounts: Record<string, Account>;
  /** Σ of every credit applied. Kept ≤ 2^53 − 1, so every balance and sum is a safe integer. */
  creditedMinor: number;
}

export function emptyAccounts(): AccountsState {
  return { accounts: {}, creditedMinor: 0 };
}

export function accountOf(s: AccountsState, id: string): Account {
  return s.accounts[id] ?? { available: 0, escrow: 0 };
}

function open(s: AccountsState, id: string): Account {
  let a = s.accounts[id];
  if (a === undefined) {
    a = { available: 0, escrow: 0 };
    s.accounts[id] = a;
  }
  return a;
}

const isAmount = (n: number) => Number.isSafeInteger(n) && n >= 0;

export function credit(s: AccountsState, id: string, amount: number): Verdict {
  if (!isAmount(amount) || amount === 0)
    return refuse('bad-amount', `credit must be an integer > 0, got ${amount}`);
  if (s.creditedMinor + amount > Number.MAX_SAFE_INTEGER)
    return refuse('amount-overflow', 'the total of all credits would exceed 2^53 − 1 minor units');
  open(s, id).available += amount;
  s.creditedMinor += amount;
  return OK;
}

/** available → escrow of the same account. */
export function escrow(s: AccountsState, id: string, amount: number): Verdict {
  const a = accountOf(s, id);
  if (!isAmount(amount)) return refuse('bad-amount', `amount must be an integer ≥ 0, got ${amount}`);
  if (a.available < amount)
    return refuse('insufficient-funds', `${id} has ${a.available} available, needs ${amount}`);
  if (amount === 0) return OK;
  const o = open(s, id);
  o.available -= amount;
  o.escrow += amount;
  return OK;
}

/** escrow → available of the same account. */
export function release(s: AccountsState, id: string, amount: number): Verdict {
  const a = accountOf(s, id);
  if (!isAmount(amount) || a.escrow < amount)
    return refuse('escrow-short', `${id} holds ${a.escrow} in escrow, cannot release ${amount}`);
  if (amount === 0) return OK;
  const o = open(s, id);
  o.escrow -= amount;
  o.available += amount;
  return OK;
}

/** From one account's escrow or available bucket to another account's available bucket. */
export function transfer(
  s: AccountsState,
  from: string,
  bucket: keyof Account,
  to: string,
  amount: number,
): Verdict {
  const a = accountOf(s, from);
  if (!isAmount(amount) || a[bucket] < amount)
    return refuse('insufficient-funds', `${from} has ${a[bucket]} ${bucket}, cannot pay ${amount}`);
  if (amount === 0) return OK;
  open(s, from)[bucket] -= amount;
  open(s, to).available += amount;
  return OK;
}

/** Σ (available + escrow) over all accounts. */
export function totalHeld(s: AccountsState): number {
  let t = 0;
  for (const a of Object.values(s.accounts)) t += a.available + a.escrow;
  return t;
}
