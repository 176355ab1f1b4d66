// The independent check run after every fault scenario. It shares nothing with the hub but the
// rules in protocol/: it reads the ledger through the portable export the built CLI writes
// (`wattproof-hub export`, docs/ledger.md), runs the built `wattproof-hub verify`, and compares
// the ledger with what the gateways themselves committed (their outbox's chain head and every
// message seen in their outbox while the scenario ran).
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { decodeJwsUnverified, messageHashB64 } from '../../protocol/index.js';
import { GAP_NOTE_TYP } from '../../protocol/messages/gap-note.js';
import { METER_PROOF_TYP } from '../../protocol/messages/meter-proof.js';
import { type Account, type ContractFigures, compareBalances, expectedBalances } from './balances.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const hubCliPath = path.join(repoRoot, 'dist/hub/cli.js');

/** What one gateway committed, as read from its own state (never from the hub). */
export interface GatewayTruth {
  gw: string;
  /** Highest seq the gateway committed (its outbox chain head); -1 = none. */
  headSeq: number;
  /** Message hash of that head. */
  headHash: string | null;
  /** seq → message hash of every message seen in its outbox during the run. */
  seen: Map<number, string>;
  /** Messages the gateway says it signed (log lines), for the table; may be fewer than headSeq+1. */
  loggedSigned?: number;
  /** seqs still in its outbox when checked (not delivered yet, so not lost: it resends them). */
  queued?: Set<number>;
}

export interface Expectations {
  gateways: GatewayTruth[];
  /** Gap notes are a fault the scenario provoked on purpose (e.g. a gateway skipping a seq). */
  gapNotesAllowed?: boolean;
  /** Per meter, each proof's interval starts where the previous one ended. */
  contiguousIntervals?: boolean;
  /** Pins the checkpoint key for verify. */
  logKey?: string;
  /**
   * The hub's accounts (read from its API after settlement): compared with the balances the
   * checker computes from the ledger's credits, contracts and proofs (balances.ts).
   */
  accounts?: Map<string, Account>;
}

export type BalancesReport =
  | 'skipped: no contracts in this scenario'
  | {
      accounts: number;
      contracts: ContractFigures[];
      expected: Record<string, Account>;
      mismatches: string[];
    };

export interface CheckReport {
  messagesSent: number;
  entriesExpected: number;
  entriesFound: number;
  lost: number;
  duplicated: number;
  chainBreaks: number;
  gapNotes: number;
  /** Holes between a meter's intervals, each flagged `partial`/`gap` by the proof after it. */
  intervalGaps: number;
  /** Committed, not in the ledger, but still in the gateway's outbox (will be resent). */
  stillQueued: number;
  verifyOk: boolean;
  verifyOutput: string;
  balances: BalancesReport;
  problems: string[];
}

interface LedgerRow {
  index: number;
  leaf: string;
}

interface ProofEntry {
  index: number;
  seq: number;
  prev: string | null;
  hash: string;
  meter?: string;
  start?: number;
  end?: number;
  flags?: string[];
}

/**
 * Others rebuild dist/ in the same tree while these tests run (tsc deletes and rewrites files);
 * wait a while for the CLI to be back rather than fail on a half-built tree.
 */
function waitForBuiltCli(): void {
  const deadline = Date.now() + 120_000;
  while (!existsSync(hubCliPath)) {
    if (Date.now() > deadline) throw new Error(`${hubCliPath} is missing: run \`npm run build\` first`);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
  }
}

function run(args: string[], timeoutMs = 60_000): { code: number | null; out: string } {
  waitForBuiltCli();
  const r = spawnSync(process.execPath, [hubCliPath, ...args], { encoding: 'utf8', timeout: timeoutMs });
  return { code: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

/** The ledger's entries through the portable export of the built CLI. */
export function exportLedger(db: string): LedgerRow[] {
  const out = mkdtempSync(path.join(tmpdir(), 'wattproof-check-'));
  const r = run(['export', '--db', db, '--out', out]);
  if (r.code !== 0) throw new Error(`wattproof-hub export failed (${r.code}): ${r.out}`);
  return readFileSync(path.join(out, 'entries.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as LedgerRow);
}

/** Reads a gateway's committed chain head and the messages now in its outbox (read-only). */
export function readOutbox(outboxFile: string, into?: GatewayTruth): GatewayTruth {
  const db = new Database(outboxFile, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    const head = db.prepare('SELECT seq, hash FROM chain_head WHERE id = 1').get() as {
      seq: number;
      hash: string | null;
    };
    const rows = db.prepare('SELECT seq, message_hash AS h FROM outbox').all() as Array<{
      seq: number;
      h: string;
    }>;
    const truth = into ?? { gw: '', headSeq: -1, headHash: null, seen: new Map() };
    truth.headSeq = head.seq;
    truth.headHash = head.hash;
    for (const r of rows) truth.seen.set(r.seq, r.h);
    return truth;
  } finally {
    db.close();
  }
}

function asRecord(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {};
}

/** The independent check; `db` is the hub's ledger.db (read while the hub runs or after). */
export function checkLedger(db: string, exp: Expectations): CheckReport {
  const problems: string[] = [];
  const rows = exportLedger(db);
  const chains = new Map<string, ProofEntry[]>();
  const gapNotes = new Map<string, Array<{ from: number; to: number }>>();
  rows.forEach((row, i) => {
    if (row.index !== i) problems.push(`export line ${i} has index ${row.index}`);
    const d = decodeJwsUnverified(row.leaf);
    if (!d) {
      problems.push(`entry ${row.index} is not a readable JWS`);
      return;
    }
    const p = asRecord(d.payload);
    if (d.header.typ === GAP_NOTE_TYP) {
      const gw = String(p.gw);
      gapNotes.set(gw, [...(gapNotes.get(gw) ?? []), { from: Number(p.from), to: Number(p.to) }]);
      return;
    }
    if (!d.header.kid.startsWith('gw-') || typeof p.seq !== 'number') return;
    const entry: ProofEntry = {
      index: row.index,
      seq: p.seq,
      prev: typeof p.prev === 'string' ? p.prev : null,
      hash: messageHashB64(row.leaf),
    };
    if (d.header.typ === METER_PROOF_TYP) {
      const meter = asRecord(p.meter);
      const interval = asRecord(p.interval);
      entry.meter = String(meter.id);
      entry.start = Number(interval.start);
      entry.end = Number(interval.end);
      entry.flags = Array.isArray(p.flags) ? p.flags.map(String) : [];
    }
    chains.set(d.header.kid, [...(chains.get(d.header.kid) ?? []), entry]);
  });

  let messagesSent = 0;
  let expected = 0;
  let found = 0;
  let lost = 0;
  let duplicated = 0;
  let chainBreaks = 0;
  let intervalGaps = 0;
  let notes = 0;
  let stillQueued = 0;
  for (const g of exp.gateways) {
    const entries = chains.get(g.gw) ?? [];
    const bySeq = new Map<number, ProofEntry>();
    for (const e of entries) {
      if (bySeq.has(e.seq)) {
        duplicated++;
        problems.push(`${g.gw}: seq ${e.seq} twice (entries ${bySeq.get(e.seq)?.index} and ${e.index})`);
      } else bySeq.set(e.seq, e);
    }
    const n = g.headSeq + 1;
    messagesSent += g.loggedSigned ?? n;
    expected += n;
    const gwNotes = gapNotes.get(g.gw) ?? [];
    notes += gwNotes.length;
    if (gwNotes.length > 0 && !exp.gapNotesAllowed)
      problems.push(`${g.gw}: unexpected gap notes ${JSON.stringify(gwNotes)}`);
    for (let s = 0; s < n; s++) {
      const e = bySeq.get(s);
      if (!e && g.queued?.has(s)) {
        stillQueued++;
        continue;
      }
      if (!e) {
        lost++;
        problems.push(`${g.gw}: seq ${s} committed by the gateway is not in the ledger`);
        continue;
      }
      found++;
      const seen = g.seen.get(s);
      if (seen !== undefined && seen !== e.hash) {
        lost++;
        problems.push(`${g.gw}: seq ${s} in the ledger is not the message the gateway signed`);
      }
      const before = bySeq.get(s - 1);
      const linked = s === 0 ? e.prev === null : before !== undefined && e.prev === before.hash;
      if (!linked) {
        chainBreaks++;
        problems.push(`${g.gw}: seq ${s} does not link to seq ${s - 1}`);
      }
    }
    // No reordering: a gateway's entries stand in the ledger in seq order (late fills of a noted
    // gap are the one exception, and only where the scenario allows gap notes).
    for (let i = 1; i < entries.length; i++) {
      const a = entries[i - 1] as ProofEntry;
      const b = entries[i] as ProofEntry;
      if (b.seq < a.seq && !exp.gapNotesAllowed) {
        chainBreaks++;
        problems.push(`${g.gw}: seq ${b.seq} (entry ${b.index}) after seq ${a.seq} (entry ${a.index})`);
      }
    }
    for (const e of entries)
      if (e.seq >= n) problems.push(`${g.gw}: seq ${e.seq} in the ledger but beyond the gateway's head`);
    const headEntry = bySeq.get(g.headSeq);
    if (headEntry && headEntry.hash !== g.headHash)
      problems.push(`${g.gw}: the ledger's seq ${g.headSeq} differs from the gateway's head`);
    // (gateway, meter, interval) exactly once, and intervals follow each other per meter.
    const byMeter = new Map<string, ProofEntry[]>();
    for (const e of [...bySeq.values()].sort((a, b) => a.seq - b.seq)) {
      if (e.meter === undefined) continue;
      byMeter.set(e.meter, [...(byMeter.get(e.meter) ?? []), e]);
    }
    for (const [meter, list] of byMeter) {
      const starts = new Set<number>();
      for (let i = 0; i < list.length; i++) {
        const e = list[i] as ProofEntry;
        if (starts.has(e.start as number)) {
          duplicated++;
          problems.push(`${g.gw}/${meter}: interval ${e.start} proven twice`);
        }
        starts.add(e.start as number);
        const b = list[i - 1];
        // An interval the agent could not prove (restart later than lateReadingSeconds) is
        // allowed only when the next proof says so (`partial`, `gap`, `agent-restart`, `device-error`): a flagged hole, not a loss.
        // The protocol's flags for readings that miss part of the time (meter-proof.ts).
        const flagged =
          e.flags?.some(
            (f) => f === 'partial' || f === 'gap' || f === 'agent-restart' || f === 'device-error',
          ) ?? false;
        if (b && e.start !== b.end) intervalGaps++;
        if (exp.contiguousIntervals && b && e.start !== b.end && !flagged) {
          problems.push(
            `${g.gw}/${meter}: interval at seq ${e.seq} starts ${e.start}, previous ended ${b.end}`,
          );
        }
      }
    }
  }
  let balances: BalancesReport = 'skipped: no contracts in this scenario';
  if (exp.accounts) {
    const b = expectedBalances(rows.map((r) => r.leaf));
    const mismatches = [...b.problems, ...compareBalances(b.expected, exp.accounts)];
    if (b.contracts.length === 0)
      mismatches.push('accounts given, but no contract was settled in the ledger');
    problems.push(...mismatches.map((m) => `balances: ${m}`));
    balances = {
      accounts: b.expected.size,
      contracts: b.contracts,
      expected: Object.fromEntries(b.expected),
      mismatches,
    };
  }
  const v = run(['verify', db, ...(exp.logKey ? ['--log-key', exp.logKey] : [])]);
  if (v.code !== 0) problems.push(`wattproof-hub verify: exit ${v.code}: ${v.out.trim()}`);
  return {
    messagesSent,
    entriesExpected: expected,
    entriesFound: found,
    lost,
    duplicated,
    chainBreaks,
    gapNotes: notes,
    intervalGaps,
    stillQueued,
    verifyOk: v.code === 0,
    verifyOutput: v.out.trim(),
    balances,
    problems,
  };
}

/** One row of the reliability table. */
export interface TableRow {
  scenario: string;
  runs: number;
  report: CheckReport;
}

export function formatTable(rows: TableRow[]): string {
  const head = [
    'scenario',
    'runs',
    'messages sent',
    'entries expected',
    'entries found',
    'lost',
    'duplicated',
    'chain breaks',
    'balances',
  ];
  const lines = rows.map((r) => [
    r.scenario,
    String(r.runs),
    String(r.report.messagesSent),
    String(r.report.entriesExpected),
    String(r.report.entriesFound),
    String(r.report.lost),
    String(r.report.duplicated),
    String(r.report.chainBreaks),
    balanceCell(r.report.balances),
  ]);
  const all = [head, ...lines];
  const widths = head.map((_, c) => Math.max(...all.map((l) => (l[c] as string).length)));
  const fmt = (l: string[]) => `| ${l.map((s, c) => s.padEnd(widths[c] as number)).join(' | ')} |`;
  return [fmt(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...lines.map(fmt)].join('\n');
}

function balanceCell(b: BalancesReport | undefined): string {
  if (b === undefined || typeof b === 'string') return '—';
  const n = `${b.accounts} accounts, ${b.contracts.length} contracts`;
  return b.mismatches.length === 0 ? `${n}: equal` : `${n}: ${b.mismatches.length} differ`;
}

/** A small seeded PRNG (mulberry32), so a failing run can be repeated with its printed seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Seed from WATTPROOF_SEED, else from the clock; printed by the scenario. */
export function scenarioSeed(): number {
  const s = Number(process.env.WATTPROOF_SEED);
  return Number.isInteger(s) && s > 0 ? s : Date.now() % 2_147_483_647;
}

export const FULL = process.env.WATTPROOF_FULL === '1';

/**
 * Results go to a JSON-lines file when WATTPROOF_FAULTS_RESULTS names one (the runner reads it
 * to print the table).
 */
export function recordResult(row: TableRow): void {
  const file = process.env.WATTPROOF_FAULTS_RESULTS;
  console.log(
    `[faults] ${row.scenario}: ${JSON.stringify({ runs: row.runs, ...row.report, problems: row.report.problems.slice(0, 5) })}`,
  );
  if (file) appendFileSync(file, `${JSON.stringify(row)}\n`);
}
