// The hub's ingest alone, without a broker: the same parts Hub.start wires (Ingest, the SQLite
// ledger with group commit, checkpoints as the config defaults say, receipts with inclusion proofs), fed
// pre-signed meter proofs in reads of 100 messages (what one socket read brings), with the
// receipts counted instead of published. Beside it, in the same run, the one-core node:crypto
// Ed25519 verify rate over the same proofs: the figure ingest is measured against.
//   npm run bench -- ingest-core              (--proofs N, --gateways N to change)
//   npm run bench -- ingest-core --quick
// What it tells apart from bench/ingest.ts: the hub's own cost per proof and its ceiling per core,
// without the broker and the fleet simulator competing for the same cores.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pino from 'pino';
import { parseHubConfig } from '../hub/config.js';
import { createMessageVerifier } from '../hub/crypto/verify-pool.js';
import { EquivocationStore } from '../hub/ingest/equivocations.js';
import { Ingest } from '../hub/ingest/ingest.js';
import { ReceiptQueue } from '../hub/ingest/receipts.js';
import { IngestStats } from '../hub/ingest/stats.js';
import type { HubKey } from '../hub/keys.js';
import { Bindings } from '../hub/ledger/bindings.js';
import { Checkpointer } from '../hub/ledger/checkpointer.js';
import { Ledger } from '../hub/ledger/ledger.js';
import { deriveId } from '../protocol/index.js';
import { GATEWAY_BINDING_TYP } from '../protocol/messages/index.js';
import {
  BenchGateway,
  bindingPayload,
  checkSameAsProtocol,
  fastSignJws,
  newKey,
  rawVerifyRate,
} from './lib/fleet.js';
import {
  benchMode,
  fmt,
  intOption,
  median,
  printHeader,
  printNote,
  printTable,
  type ResultRow,
} from './lib/report.js';

const mode = benchMode();
printHeader(
  'Hub ingest without a broker (verify → ledger → receipt)',
  mode,
  'node --import tsx bench/ingest-core.ts',
);

const GATEWAYS = intOption('gateways', mode.quick ? 10 : 1_000);
const PROOFS = intOption('proofs', mode.quick ? 200 : 30_000);
const RUNS = mode.quick ? 1 : 3;
/** The hub's config-file defaults (checkpoint every 4096 entries or 500 ms, ...). */
const CONFIG = parseHubConfig({ dataDir: '.', http: { operatorToken: 'x'.repeat(32) } }, '/');
/** Messages handed to ingest in one turn of the event loop (one socket read's worth). */
const READ = 100;

interface RunResult {
  proofsPerSecond: number;
  cpuMsPer1000: number;
  receipts: number;
}

/** One fresh hub ledger, `workers` verify threads, PROOFS proofs from GATEWAYS gateways. */
async function run(workers: number): Promise<RunResult> {
  const dir = mkdtempSync(path.join(tmpdir(), 'wattproof-bench-ingest-core-'));
  const hub = newKey((pub) => deriveId('hub', pub));
  const hubKey: HubKey = { hubId: hub.id, secretKey: hub.secretKey, publicKey: hub.publicKey };
  const db = new Database(path.join(dir, 'ledger.db'));
  const ledger = new Ledger(db, {
    signer: { origin: 'bench.wattproof/log', secretKey: hub.secretKey, publicKey: hub.publicKey },
  });
  const bindings = new Bindings(db);
  const gateways = Array.from({ length: GATEWAYS }, () => new BenchGateway());
  checkSameAsProtocol(hub, gateways[0] as BenchGateway);
  ledger.transaction(() => {
    for (const g of gateways) {
      const jws = fastSignJws(GATEWAY_BINDING_TYP, hub.id, bindingPayload(g.key), hub.privateKey);
      const [e] = ledger.append([
        { jws, typ: GATEWAY_BINDING_TYP, kid: hub.id, gw: null, seq: null, receivedMs: 0 },
      ]);
      bindings.add({
        gw: g.id,
        publicKey: g.key.publicKey,
        index: e?.index ?? 0,
        site: 'bench',
        participant: null,
      });
    }
  });
  ledger.checkpoint();
  // Signed before the clock starts: the gateways' work, not the hub's.
  const messages: Array<{ topic: string; payload: Buffer }> = [];
  while (messages.length < PROOFS)
    for (const g of gateways) {
      if (messages.length >= PROOFS) break;
      messages.push({ topic: `wattproof/v1/gw/${g.id}/proof`, payload: Buffer.from(g.nextProof()) });
    }

  const stats = new IngestStats();
  let accepted = 0;
  let done: () => void = () => undefined;
  const allIn = new Promise<void>((resolve) => {
    done = resolve;
  });
  const receipts = new ReceiptQueue(
    ledger,
    (_topic, payload) => {
      // What the broker would be handed; a receipt counts once it is encoded.
      if (payload.startsWith('{"status":"accepted"') && ++accepted === PROOFS) done();
    },
    stats,
  );
  const checkpointer = new Checkpointer(ledger, {
    every: CONFIG.ledger.checkpointEvery,
    intervalMs: CONFIG.ledger.checkpointIntervalMs,
    onCheckpoint: (cp) => receipts.onCheckpoint(cp),
  });
  const verifier = createMessageVerifier(workers);
  const ingest = new Ingest({
    ledger,
    bindings,
    verifier,
    equivocations: new EquivocationStore(db),
    receipts,
    stats,
    hubKey,
    log: pino({ level: 'silent' }),
    gapWaitMs: CONFIG.ingest.gapWaitMs,
    afterCommit: () => checkpointer.afterCommit(),
  });

  const cpu = process.cpuUsage();
  const start = performance.now();
  for (let i = 0; i < messages.length; i += READ) {
    for (const m of messages.slice(i, i + READ)) ingest.handle(m.topic, m.payload);
    await new Promise<void>((r) => setImmediate(r));
  }
  await ingest.idle();
  checkpointer.make();
  await allIn;
  const wallMs = performance.now() - start;
  const used = process.cpuUsage(cpu);
  checkpointer.stop();
  ingest.stop();
  await verifier.close();
  if (stats.rejectedTotal() > 0) throw new Error(`ingest rejected ${stats.rejectedTotal()} bench proofs`);
  if (ledger.size !== GATEWAYS + PROOFS) throw new Error(`the ledger holds ${ledger.size} entries`);
  db.close();
  rmSync(dir, { recursive: true, force: true });
  return {
    proofsPerSecond: (PROOFS / wallMs) * 1000,
    cpuMsPer1000: ((used.user + used.system) / 1000 / PROOFS) * 1000,
    receipts: accepted,
  };
}

// The ceiling: node:crypto Ed25519 verify on one core, cached keys, measured in this run.
const rawVerify = rawVerifyRate(mode.quick);

const rows: ResultRow[] = [];
for (const workers of [0, 1]) {
  const results: RunResult[] = [];
  // Interleaving would share one JIT state; a warm-up run first keeps the first timed run honest.
  if (!mode.quick) await run(workers);
  for (let r = 0; r < RUNS; r++) results.push(await run(workers));
  const label = workers === 0 ? 'on the main thread' : `with ${workers} verify worker thread`;
  rows.push({
    what: `hub ingest ${label}: proofs verified, appended, checkpointed, receipt encoded (${PROOFS.toLocaleString('en-US')} proofs, ${GATEWAYS.toLocaleString('en-US')} gateways)`,
    value: median(results.map((x) => x.proofsPerSecond)),
    unit: 'proofs/s',
    runs: results.length,
    reference: 'node:crypto Ed25519 verify, one core',
    referenceValue: rawVerify,
    note: `CPU ${fmt(median(results.map((x) => x.cpuMsPer1000)))} ms per 1000 proofs (all threads)`,
  });
}
printTable(rows);
printNote(
  'Wall-clock rate of the hub parts alone, in one process; with a worker the signature checks run beside ' +
    'the ledger work on the second core. CPU per 1000 proofs is what each proof costs the machine.',
);
