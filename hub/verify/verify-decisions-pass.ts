// `wattproof-hub verify --policy FILE --grid FILE`: the validator's decisions recomputed. After the
// ledger checks (verify-ledger.ts), this pass folds the log again and recomputes every validator
// decision — registrations, contract reviews, stops, congestion — under the policies given (each
// decision names its own by hash) and the grid model (congestion inputs hash it), with HiGHS
// (hub/validator/verify-decisions.ts). The first decision that does not follow is named by its
// entry index.
import Database from 'better-sqlite3';
import { OPERATOR_CREDIT_TYP } from '../../protocol/messages/index.js';
import { type FoldConfig, type LogEntry, logEntryFromJws } from '../contracts/fold.js';
import { prepareDatabaseReadOnly } from '../ledger/schema.js';
import { type GridModel, readGridModelFile } from '../validator/congestion/grid-model.js';
import { loadSolver } from '../validator/congestion/lp.js';
import { readPolicyFile, type ValidatorPolicy } from '../validator/policy.js';
import { type DecisionsReport, verifyValidatorDecisions } from '../validator/verify-decisions.js';

export interface DecisionsPassOptions {
  /** Every validator policy in force over the log (YAML files). */
  policyFiles: readonly string[];
  /** The grid model file congestion decisions were made on. */
  gridModelFile?: string;
}

/** The log's entries, read from the database afresh on each call (a log may be too large to hold). */
function* logOf(db: Database.Database): Generator<LogEntry> {
  for (const r of db
    .prepare<[], { idx: number; leaf: string }>('SELECT idx, leaf FROM entries ORDER BY idx')
    .iterate()) {
    const e = logEntryFromJws(r.idx, r.leaf);
    if (e) yield e;
  }
}

/** Who the fold trusts: the hub and validator kids that signed entries, and the ledger's currency. */
function foldConfigOf(db: Database.Database): FoldConfig {
  const hubKids = new Set<string>();
  const validatorKids = new Set<string>();
  // The ledger pass has checked every signature; here the kid's prefix says who signed.
  for (const r of db.prepare<[], { kid: string }>('SELECT DISTINCT kid FROM entries').iterate()) {
    if (r.kid.startsWith('hub-')) hubKids.add(r.kid);
    if (r.kid.startsWith('val-')) validatorKids.add(r.kid);
  }
  // The ledger has one currency, the one its money entered in.
  const credit = db
    .prepare<[string], { leaf: string }>('SELECT leaf FROM entries WHERE typ = ? ORDER BY idx LIMIT 1')
    .get(OPERATOR_CREDIT_TYP);
  const currency = credit
    ? (logEntryFromJws(0, credit.leaf)?.payload as { currency?: string } | undefined)?.currency
    : undefined;
  return {
    hubKids: [...hubKids].sort(),
    validatorKids: [...validatorKids].sort(),
    currency: currency ?? 'EUR',
  };
}

/** Recomputes every validator decision of a ledger file. Throws for an unreadable policy or grid. */
export async function verifyDecisionsFile(
  file: string,
  opts: DecisionsPassOptions,
): Promise<DecisionsReport> {
  if (opts.policyFiles.length === 0) throw new Error('--policy: name at least one validator policy file');
  const policies: ValidatorPolicy[] = opts.policyFiles.map((f) => readPolicyFile(f));
  const gridModel: GridModel | undefined =
    opts.gridModelFile === undefined ? undefined : readGridModelFile(opts.gridModelFile);
  const highs = gridModel === undefined ? undefined : await loadSolver();
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    prepareDatabaseReadOnly(db);
    // One read transaction, so every pass over the log sees the same entries.
    return db.transaction(() =>
      verifyValidatorDecisions(() => logOf(db), policies, gridModel, {
        config: foldConfigOf(db),
        ...(highs ? { highs } : {}),
      }),
    )();
  } finally {
    db.close();
  }
}
