// Shared pieces of the engine's tests on a real ledger: a hub key and an empty SQLite ledger it
// signs, on a fresh temp dir, and the dependencies of an engine running the auction market there.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pino from 'pino';
import type { EngineDeps } from '../../hub/engine/engine.js';
import { type HubKey, loadOrCreateHubKey } from '../../hub/keys.js';
import { Ledger } from '../../hub/ledger/ledger.js';
import { marketRules } from '../../hub/markets/rules.js';

export interface TempLedger {
  readonly dir: string;
  readonly hubKey: HubKey;
  readonly db: Database.Database;
  readonly ledger: Ledger;
}

/** A fresh hub key in `hub.key` on a new temp dir named after `name`. */
export function tempHubKey(name: string): { dir: string; hubKey: HubKey } {
  const dir = mkdtempSync(path.join(tmpdir(), `wattproof-${name.replaceAll('/', '-')}-`));
  return { dir, hubKey: loadOrCreateHubKey(path.join(dir, 'hub.key')).key };
}

/** A fresh hub key and an empty ledger it signs (checkpoint origin `origin`) on a new temp dir. */
export function tempLedger(origin: string): TempLedger {
  const { dir, hubKey } = tempHubKey(origin);
  const db = new Database(path.join(dir, 'ledger.db'));
  const ledger = new Ledger(db, {
    signer: { origin, secretKey: hubKey.secretKey, publicKey: hubKey.publicKey },
  });
  return { dir, hubKey, db, ledger };
}

/** The auction market in EUR the engine tests clear. */
export const auctionRules = () => marketRules({ currency: 'EUR', mode: 'auction' });

/**
 * An engine on `temp`'s ledger running `rules` on the test's clock, ticked by hand (tickMs 0),
 * publishing nowhere and logging nothing unless `more` says otherwise.
 */
export function auctionEngineDeps(
  temp: TempLedger,
  rules: ReturnType<typeof auctionRules>,
  clock: () => number,
  more: Partial<EngineDeps> = {},
): EngineDeps {
  return {
    ledger: temp.ledger,
    hubKey: temp.hubKey,
    config: { currency: 'EUR', settlementGraceMs: 60_000, tickMs: 0, market: rules },
    clock,
    publish: () => {},
    log: pino({ level: 'silent' }),
    ...more,
  };
}
