// What `wattproof-agent status` shows: the running agent's status file, checked for freshness,
// with the outbox read straight from SQLite (read-only), so the depth is right even when the agent
// is not running.
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { type AgentStatus, STATUS_FILE } from './agent.js';
import { OUTBOX_FILE } from './outbox.js';

export interface StatusReport {
  gatewayId: string;
  running: boolean;
  pid: number | null;
  updatedAt: number | null;
  clock: AgentStatus['clock'] | null;
  broker: AgentStatus['broker'];
  outbox: {
    pending: number;
    oldestSeq: number | null;
    oldestCreatedAt: number | null;
    rejected: number;
    headSeq: number;
  };
  lastReceipt: AgentStatus['lastReceipt'];
  telemetry: AgentStatus['telemetry'] | null;
  devices: AgentStatus['devices'];
  /** The last outbox write error while it lasts (a full disk), else null. */
  storageError: string | null;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function readOutboxSummary(
  stateDir: string,
): StatusReport['outbox'] & { lastReceipt: AgentStatus['lastReceipt'] } {
  const file = path.join(stateDir, OUTBOX_FILE);
  if (!existsSync(file))
    return {
      pending: 0,
      oldestSeq: null,
      oldestCreatedAt: null,
      rejected: 0,
      headSeq: -1,
      lastReceipt: null,
    };
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const c = db
      .prepare<[], { n: number; oldest: number | null; oldestSeq: number | null }>(
        'SELECT COUNT(*) AS n, MIN(created_at) AS oldest, MIN(seq) AS oldestSeq FROM outbox WHERE rejected_reason IS NULL',
      )
      .get()!;
    const rejected = db
      .prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM outbox WHERE rejected_reason IS NOT NULL')
      .get()!.n;
    const head = db.prepare<[], { seq: number }>('SELECT seq FROM chain_head WHERE id = 1').get();
    const lr = db.prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'lastReceipt'").get();
    return {
      pending: c.n,
      oldestSeq: c.oldestSeq,
      oldestCreatedAt: c.oldest,
      rejected,
      headSeq: head?.seq ?? -1,
      lastReceipt: lr ? (JSON.parse(lr.value) as AgentStatus['lastReceipt']) : null,
    };
  } finally {
    db.close();
  }
}

export function statusReport(stateDir: string, gatewayId: string, now = Date.now()): StatusReport {
  const { lastReceipt, ...outbox } = readOutboxSummary(stateDir);
  const file = path.join(stateDir, STATUS_FILE);
  let s: AgentStatus | undefined;
  try {
    s = JSON.parse(readFileSync(file, 'utf8')) as AgentStatus;
  } catch {
    s = undefined;
  }
  // The agent rewrites the file every 2 s while it runs.
  const running = s?.running === true && alive(s.pid) && now - statMtime(file) < 15_000;
  return {
    gatewayId,
    running,
    pid: running && s ? s.pid : null,
    updatedAt: s?.updatedAt ?? null,
    clock: s?.clock ?? null,
    broker: s?.broker ? { ...s.broker, connected: running && s.broker.connected } : null,
    outbox,
    lastReceipt,
    telemetry: s?.telemetry ?? null,
    devices: s?.devices ?? [],
    storageError: running ? (s?.storageError ?? null) : null,
  };
}

function statMtime(file: string): number {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

const ago = (t: number | null, now: number) =>
  t === null ? 'never' : `${Math.max(0, Math.round((now - t) / 1000))} s ago`;

export function formatStatus(r: StatusReport, now = Date.now()): string {
  const lines = [
    `gateway      ${r.gatewayId}`,
    `agent        ${r.running ? `running (pid ${r.pid})` : 'not running'}`,
    `clock        ${r.clock ? (r.clock.synchronised ? 'synchronised' : 'NOT synchronised (proofs are flagged)') : 'unknown'}`,
    `broker       ${r.broker ? `${r.broker.connected ? 'connected' : 'disconnected'} ${r.broker.url}${r.broker.lastError ? ` (last error: ${r.broker.lastError})` : ''}` : 'unknown'}`,
    `outbox       ${r.outbox.pending} waiting for a receipt${r.outbox.oldestSeq !== null ? `, oldest seq ${r.outbox.oldestSeq} signed ${ago(r.outbox.oldestCreatedAt, now)}` : ''}${r.outbox.rejected ? `, ${r.outbox.rejected} rejected by the hub` : ''}; last seq ${r.outbox.headSeq}`,
    `last receipt ${r.lastReceipt ? `seq ${r.lastReceipt.seq} → ledger index ${r.lastReceipt.index} (${r.lastReceipt.status}), ${ago(r.lastReceipt.at, now)}` : 'none yet'}`,
  ];
  if (r.telemetry)
    lines.push(
      `telemetry    ${r.telemetry.buffered} buffered, ${r.telemetry.dropped} dropped, ${r.telemetry.sent} batches sent`,
    );
  lines.push('devices');
  if (r.devices.length === 0) lines.push('  (none reported)');
  for (const d of r.devices) {
    const reading = d.lastReading
      ? `import ${d.lastReading.importWh} Wh, export ${d.lastReading.exportWh} Wh${d.lastReading.powerW !== null ? `, ${d.lastReading.powerW} W` : ''}, ${ago(d.lastReading.at, now)}`
      : 'no reading yet';
    lines.push(
      `  ${d.name} (${d.role}): ${d.health}; ${reading}; ${d.proofs} proofs${d.lastError ? `; error: ${d.lastError}` : ''}`,
    );
  }
  return `${lines.join('\n')}\n`;
}
