// The engine's start-up fold: a hub that starts with an engine folds the whole ledger before its
// engine (and the engine's HTTP endpoints) can answer. The log is built the way bench/ledger.ts
// builds one (mostly chained meter proofs from many bound gateways), behind a small world with one
// active contract (hub/contracts/scenario.ts) whose gateways' proofs it takes in. The fold is timed
// from an empty engine to the log's end, in CPU time, beside the plain fold of the same log
// (protocol's decode of every leaf, then applyEntry: what the engine did before
// hub/engine/leaf-reader.ts), which must reach the same state, and beside the leaf reads alone
// (Ledger.range's whole entries, Ledger.leaves' four fields the fold reads, and bare SQLite).
//   node --import tsx bench/engine-fold.ts                 (200,000 entries; --entries N to change)
//   node --import tsx bench/engine-fold.ts --quick
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pino from 'pino';
import {
  applyEntry,
  emptyState,
  type FoldConfig,
  logEntryFromJws,
  stateHash,
} from '../hub/contracts/fold.js';
import { K, Q, registeredWorld } from '../hub/contracts/scenario.js';
import { Engine } from '../hub/engine/engine.js';
import { type AppendInput, Ledger } from '../hub/ledger/ledger.js';
import { decodeJwsUnverified } from '../protocol/index.js';
import { EXAMPLE_T0 } from '../protocol/messages/examples.js';
import { GATEWAY_BINDING_TYP, METER_PROOF_TYP } from '../protocol/messages/index.js';
import { BenchGateway, bindingPayload, fastSignJws, privateKeyObject } from './lib/fleet.js';
import {
  benchMode,
  clockMs,
  intOption,
  median,
  printHeader,
  printNote,
  printTable,
  type ResultRow,
} from './lib/report.js';

const mode = benchMode();
printHeader('Engine: the start-up fold of the whole ledger', mode, 'node --import tsx bench/engine-fold.ts');

const LOG_SIZE = intOption('entries', mode.quick ? 2_000 : 200_000);
const GATEWAYS = Math.max(1, Math.min(1_000, Math.floor(LOG_SIZE / 100)));
const RUNS = mode.quick ? 1 : 3;

const dir = mkdtempSync(path.join(tmpdir(), 'wattproof-bench-engine-fold-'));
const signer = { origin: 'bench.wattproof/log', secretKey: K.hub.secretKey, publicKey: K.hub.publicKey };
const hubKey = { hubId: K.hub.id, publicKey: K.hub.publicKey, secretKey: K.hub.secretKey };

try {
  // 1. The log: the scenario's world (bindings, participants, credits, one active contract), then
  //    a binding per bench gateway, then their chained proofs round-robin.
  const file = path.join(dir, 'ledger.db');
  const db = new Database(file);
  const ledger = new Ledger(db, { signer });
  const world = registeredWorld({ sign: true });
  // Both delivery points deliver in the contract's window, so some proofs are taken in.
  for (const [gw, energy] of [
    [K.gatewayA.id, { importWh: 0, exportWh: 1000 }],
    [K.gatewayB.id, { importWh: 1000, exportWh: 0 }],
  ] as const) {
    const counters = { importWh: 0, exportWh: 0 };
    for (let q = 0; q < 4; q++) world.b.proof(gw, 'grid-meter', EXAMPLE_T0 + q * Q, Q, energy, counters);
  }
  ledger.append(
    world.b.compacts.map((jws) => {
      const d = decodeJwsUnverified(jws);
      if (d === undefined) throw new Error('a scenario entry does not decode');
      const chained = d.header.typ === METER_PROOF_TYP ? (d.payload as { seq: number }) : undefined;
      return {
        jws,
        typ: d.header.typ,
        kid: d.header.kid,
        gw: chained ? d.header.kid : null,
        seq: chained ? chained.seq : null,
        receivedMs: 0,
      };
    }),
  );
  const hubPrivate = privateKeyObject(K.hub.secretKey);
  const gateways = Array.from({ length: GATEWAYS }, () => new BenchGateway());
  const buildStart = clockMs('wall');
  let pending: AppendInput[] = [];
  const flush = () => {
    ledger.append(pending);
    pending = [];
  };
  for (const gw of gateways) {
    const jws = fastSignJws(GATEWAY_BINDING_TYP, K.hub.id, bindingPayload(gw.key), hubPrivate);
    pending.push({ jws, typ: GATEWAY_BINDING_TYP, kid: K.hub.id, gw: null, seq: null, receivedMs: 0 });
  }
  for (let i = 0; ledger.size + pending.length < LOG_SIZE; i++) {
    const gw = gateways[i % GATEWAYS] as BenchGateway;
    const seq = gw.seq;
    pending.push({ jws: gw.nextProof(), typ: METER_PROOF_TYP, kid: gw.id, gw: gw.id, seq, receivedMs: 0 });
    if (pending.length === 1000) flush();
  }
  flush();
  const buildMs = clockMs('wall') - buildStart;
  db.pragma('wal_checkpoint(TRUNCATE)');
  const size = ledger.size;

  // 2. The fold an engine does at start-up (Engine.start() without the timer and the first tick:
  //    the tick would act on the state, which is not what is measured), and beside it the same
  //    log folded the plain way (protocol's decode of every leaf, then the contracts fold), which
  //    is what the engine did before it read leaves with leaf-reader.ts. Both must reach the same
  //    state. Their runs alternate, after one unmeasured run of each, so neither has the warmer JIT.
  const foldConfig: FoldConfig = { hubKids: [K.hub.id], validatorKids: [K.validator.id], currency: 'EUR' };
  const foldMs: number[] = [];
  const plainMs: number[] = [];
  const hashes = new Set<string>();
  let contracts = 0;
  let proofsTaken = 0;
  const engineFold = (): number => {
    const engine = new Engine({
      ledger,
      hubKey,
      config: { currency: 'EUR', settlementGraceMs: 60_000, tickMs: 0, validatorKids: [K.validator.id] },
      clock: () => 0,
      publish: () => {},
      log: pino({ level: 'silent' }),
    });
    const t = clockMs('cpu');
    const n = engine.catchUp();
    const ms = clockMs('cpu') - t;
    if (n !== size) throw new Error(`the engine folded ${n} of ${size} entries`);
    hashes.add(stateHash(engine.ledgerState));
    contracts = Object.keys(engine.ledgerState.contracts).length;
    proofsTaken = Object.values(engine.ledgerState.contracts).reduce((k, c) => k + c.proofs.length, 0);
    return ms;
  };
  const plainFold = (): number => {
    const t = clockMs('cpu');
    const state = emptyState();
    for (let i = 0; i < size; ) {
      const page = ledger.range(i, size);
      for (const e of page) {
        const entry = logEntryFromJws(e.index, e.jws);
        if (entry === undefined) state.size = e.index + 1;
        else applyEntry(state, entry, foldConfig);
      }
      i += page.length;
    }
    const ms = clockMs('cpu') - t;
    hashes.add(stateHash(state));
    return ms;
  };
  for (let r = 0; r <= RUNS; r++) {
    const a = engineFold();
    const b = plainFold();
    if (r > 0) {
      foldMs.push(a);
      plainMs.push(b);
    }
  }
  if (hashes.size !== 1) throw new Error('the engine and the plain fold reached different states');

  // The floor: reading every leaf once, in the ledger's own pages: range() (whole entries, pages of
  // 1,000) and leaves() (the four fields the fold reads as raw rows, pages of 1,000: what
  // Engine.catchUp reads with).
  const readMs: number[] = [];
  const leanMs: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const t = clockMs('cpu');
    let bytes = 0;
    for (let i = 0; i < size; ) {
      const page = ledger.range(i, size);
      for (const e of page) bytes += e.jws.length;
      i += page.length;
    }
    readMs.push(clockMs('cpu') - t);
    if (bytes === 0) throw new Error('read nothing');
    const u = clockMs('cpu');
    let leanBytes = 0;
    for (let i = 0; i < size; ) {
      const page = ledger.leaves(i, size);
      for (const e of page) leanBytes += e.jws.length;
      i += page.length;
    }
    leanMs.push(clockMs('cpu') - u);
    if (leanBytes !== bytes) throw new Error('leaves() read other leaves than range()');
  }

  // The floor under that: the same leaves and message hashes read from SQLite directly, raw rows,
  // one prepared statement, pages of 10,000 (what a leaf read could cost).
  const bareMs: number[] = [];
  const bare = db
    .prepare('SELECT leaf, message_hash FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx')
    .raw();
  for (let r = 0; r < RUNS; r++) {
    const t = clockMs('cpu');
    let bytes = 0;
    for (let i = 0; i < size; i += 10_000)
      for (const row of bare.all(i, i + 10_000) as [string, Buffer][]) bytes += row[0].length + row[1].length;
    bareMs.push(clockMs('cpu') - t);
    if (bytes === 0) throw new Error('read nothing');
  }

  const rows: ResultRow[] = [
    {
      what: `engine start-up fold, ${size.toLocaleString('en-US')} entries (Engine.catchUp)`,
      value: median(foldMs),
      unit: 'ms (CPU)',
      runs: RUNS,
      reference: 'plain fold: logEntryFromJws + applyEntry per leaf',
      referenceValue: median(plainMs),
    },
    {
      what: 'engine start-up fold, beside the leaf reads alone',
      value: median(foldMs),
      unit: 'ms (CPU)',
      runs: RUNS,
      reference: 'read every leaf (Ledger.leaves pages, what the fold reads)',
      referenceValue: median(leanMs),
    },
    {
      what: 'read every leaf (Ledger.range pages)',
      value: median(readMs),
      unit: 'ms (CPU)',
      runs: RUNS,
      reference: 'bare SQLite read of leaf and message hash, raw rows, pages of 10,000',
      referenceValue: median(bareMs),
    },
    {
      what: 'read every leaf (Ledger.leaves pages: index, leaf, message hash, typ)',
      value: median(leanMs),
      unit: 'ms (CPU)',
      runs: RUNS,
      reference: 'bare SQLite read of leaf and message hash, raw rows, pages of 10,000',
      referenceValue: median(bareMs),
    },
    {
      what: 'engine start-up fold rate',
      value: (size / median(foldMs)) * 1000,
      unit: 'entries/s',
      runs: RUNS,
    },
  ];
  printTable(rows);
  printNote(
    `Log: ${size.toLocaleString('en-US')} entries (${GATEWAYS} gateways' proofs, ${contracts} contract taking in ${proofsTaken} proofs), ` +
      `built in ${(buildMs / 1000).toFixed(1)} s. Folded state hash: ${[...hashes][0]}.`,
  );
  db.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
