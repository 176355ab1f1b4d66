// Shared pieces of the engine's tests on a real ledger: a hub key and an empty SQLite ledger it
// signs, on a fresh temp dir, and the dependencies of an engine running the auction market there.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pino from 'pino';
import type { Engine, EngineDeps, EngineReceipt } from '../../hub/engine/engine.js';
import { type HubKey, loadOrCreateHubKey } from '../../hub/keys.js';
import { Ledger } from '../../hub/ledger/ledger.js';
import { energyOrder, participant } from '../../hub/markets/example-orders.js';
import { marketRules } from '../../hub/markets/rules.js';
import { ORDER_TYP, signMessage } from '../../protocol/messages/index.js';
import { participantApplication } from './contract-fixtures.js';

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
export const AUCTION_RULES = marketRules({ currency: 'EUR', mode: 'auction' });

/**
 * An engine on `temp`'s ledger running AUCTION_RULES on the test's clock, ticked by hand (tickMs 0),
 * publishing nowhere and logging nothing unless `more` says otherwise.
 */
export function auctionEngineDeps(
  temp: TempLedger,
  clock: () => number,
  more: Partial<EngineDeps> = {},
): EngineDeps {
  return {
    ledger: temp.ledger,
    hubKey: temp.hubKey,
    config: { currency: 'EUR', settlementGraceMs: 60_000, tickMs: 0, market: AUCTION_RULES },
    clock,
    publish: () => {},
    log: pino({ level: 'silent' }),
    ...more,
  };
}

/** The example participants alice and bob apply as households (no gateways) at `at`. */
export function registerAliceAndBob(engine: Engine, at: number): void {
  for (const who of ['alice', 'bob'])
    engine.submitSigned(participantApplication(participant(who), { gateways: [], at }));
}

/**
 * Alice and bob apply at `at`; alice offers 1000 Wh at ≥ 20 and bob bids 800 Wh at ≤ 30 for the
 * first interval (800 Wh clear at 20), each order signed by its participant. Answers the engine's
 * receipt for each order.
 */
export function aliceOffersBobBids(engine: Engine, at: number): EngineReceipt[] {
  registerAliceAndBob(engine, at);
  const offer = energyOrder({ who: 'alice', side: 'offer', quantityWh: 1000, limitMinorPerKWh: 20 });
  const bid = energyOrder({ who: 'bob', side: 'bid', quantityWh: 800, limitMinorPerKWh: 30 });
  return (
    [
      [offer, 'alice'],
      [bid, 'bob'],
    ] as const
  ).map(([o, who]) =>
    engine.submitSigned(signMessage(ORDER_TYP, o.participant, o, participant(who).secretKey), ORDER_TYP),
  );
}
