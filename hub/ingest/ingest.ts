// Verified ingest: every message on gw/{id}/proof and gw/{id}/event is checked (binding, JWS,
// typ for the topic, kid = topic id, schema, chain) before it is appended; everything refused is
// counted by reason and logged, and nothing a sender does can throw out of the handler.
//
// Messages are queued and processed in small batches, each batch in one SQLite transaction (one
// fsync for many appends). Receipts wait for the checkpoint that covers their entry (see
// ReceiptQueue), so each receipt carries a signed checkpoint and an inclusion proof.
import type { Logger } from 'pino';
import { b64url, bytesEqual, decodeJwsUnverified, fromUtf8 } from '../../protocol/index.js';
import {
  DISPATCH_RESPONSE_TYP,
  FULFILMENT_TYP,
  GAP_NOTE_TYP,
  GATEWAY_STATUS_TYP,
  type GapNote,
  type GatewayStatus,
  METER_PROOF_TYP,
  signMessage,
} from '../../protocol/messages/index.js';
import { sha256Of } from '../crypto/hashes.js';
import type { VerifyJob, VerifyOutcome } from '../crypto/verify-jobs.js';
import type { MessageVerifier } from '../crypto/verify-pool.js';
import type { HubKey } from '../keys.js';
import type { Bindings } from '../ledger/bindings.js';
import type { Entry, Ledger } from '../ledger/ledger.js';
import type { EquivocationStore } from './equivocations.js';
import type { ReceiptQueue } from './receipts.js';
import type { IngestStats } from './stats.js';

export const TOPIC_PREFIX = 'wattproof/v1/gw/';

/** The message types accepted on each gateway topic. */
export const TYPS_BY_TOPIC: Record<string, readonly string[]> = {
  proof: [METER_PROOF_TYP],
  event: [FULFILMENT_TYP, DISPATCH_RESPONSE_TYP],
  status: [GATEWAY_STATUS_TYP],
};

/** Subscriptions ingest needs. */
export const INGEST_SUBSCRIPTIONS = [
  `${TOPIC_PREFIX}+/proof`,
  `${TOPIC_PREFIX}+/event`,
  `${TOPIC_PREFIX}+/status`,
];

export interface IngestOptions {
  ledger: Ledger;
  bindings: Bindings;
  /** Checks messages (in worker threads or on this one). */
  verifier: MessageVerifier;
  equivocations: EquivocationStore;
  receipts: ReceiptQueue;
  stats: IngestStats;
  hubKey: HubKey;
  log: Logger;
  /** How long a message after a gap waits for the missing ones. */
  gapWaitMs: number;
  /** Most messages held per gateway while waiting for a gap to close. */
  maxPendingPerGateway?: number;
  /** Called after each batch was committed (the checkpointer hooks in here). */
  afterCommit?: () => void;
  /** Raised for equivocation (and other alerts an operator must see). */
  onAlert?: (alert: { kind: 'equivocation'; gw: string; seq: number; detail: string }) => void;
  now?: () => number;
}

interface ChainedMessage {
  gw: string;
  seq: number;
  prev: string | null;
  typ: string;
  jws: string;
  hash: Uint8Array;
  receivedMs: number;
}

/** A message as it arrived, already pre-checked (topic, binding, UTF-8). */
type Queued =
  | { kind: 'refused'; topic: string; reason: string; detail: string; gw?: string; hash?: Uint8Array }
  | { kind: 'verify'; topic: string; gw: string; hash: Uint8Array; receivedMs: number; job: VerifyJob }
  | { kind: 'gap-timeout'; gw: string };

/** Most messages verified and appended in one round (one transaction). */
const MAX_BATCH = 500;

export interface FleetState {
  gw: string;
  state: 'online' | 'offline';
  version: string;
  lastStatusAt: number;
  receivedMs: number;
}

export class Ingest {
  private readonly queue: Queued[] = [];
  private scheduled = false;
  private flushing = false;
  private readonly pending = new Map<string, Map<number, ChainedMessage>>();
  private readonly gapTimers = new Map<string, NodeJS.Timeout>();
  readonly fleet = new Map<string, FleetState>();
  /** Each gateway's highest seq in the log and its message hash; null = none yet. */
  private readonly heads = new Map<string, { seq: number; hash: Uint8Array } | null>();
  private readonly now: () => number;
  private stopped = false;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly o: IngestOptions) {
    this.now = o.now ?? Date.now;
  }

  /** Accepts one MQTT message. Never throws. */
  handle(topic: string, payload: Buffer): void {
    if (this.stopped) return;
    try {
      this.queue.push(this.precheck(topic, payload));
    } catch (err) {
      this.queue.push({ kind: 'refused', topic, reason: 'internal-error', detail: (err as Error).message });
    }
    this.schedule();
  }

  /** The cheap checks, on arrival: which gateway, is it enrolled, is it text. */
  private precheck(topic: string, payload: Buffer): Queued {
    if (!topic.startsWith(TOPIC_PREFIX))
      return { kind: 'refused', topic, reason: 'topic-unknown', detail: `not a gateway topic: ${topic}` };
    const rest = topic.slice(TOPIC_PREFIX.length).split('/');
    const [gw, leaf] = rest;
    const typs = leaf ? TYPS_BY_TOPIC[leaf] : undefined;
    if (rest.length !== 2 || !gw || !typs)
      return { kind: 'refused', topic, reason: 'topic-unknown', detail: `not an ingest topic: ${topic}` };
    const binding = this.o.bindings.get(gw);
    if (!binding) {
      return {
        kind: 'refused',
        topic,
        reason: 'gateway-unknown',
        detail: `no gateway ${gw.slice(0, 40)} is enrolled`,
        gw: gw.slice(0, 40),
      };
    }
    const hash = sha256Of(payload);
    let text: string;
    try {
      text = fromUtf8(payload);
    } catch {
      return { kind: 'refused', topic, reason: 'malformed', detail: 'payload is not UTF-8', gw, hash };
    }
    return {
      kind: 'verify',
      topic,
      gw,
      hash,
      receivedMs: this.now(),
      job: { text, typs, kid: gw, publicKey: binding.publicKey },
    };
  }

  private schedule(): void {
    if (this.scheduled || this.flushing) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  /** Resolves when every queued message has been processed. */
  idle(): Promise<void> {
    if (!this.scheduled && !this.flushing && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.gapTimers.values()) clearTimeout(t);
    this.gapTimers.clear();
  }

  /**
   * Rounds until the queue is empty: verify a batch (in worker threads when the verifier has
   * them; messages arriving meanwhile wait for the next round), then apply the chain rules and
   * append, in arrival order, in one transaction.
   */
  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      let next = this.startRound();
      while (next) {
        const { batch, outcomes } = await next;
        // Verify the next batch while this one is applied (the pool works in other threads).
        next = this.startRound();
        this.apply(batch, outcomes);
        next ??= this.startRound();
      }
    } finally {
      this.flushing = false;
      if (this.queue.length > 0) this.schedule();
      else for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  /** Takes the next batch off the queue and starts verifying it. */
  private startRound(): Promise<{ batch: Queued[]; outcomes: VerifyOutcome[] }> | undefined {
    if (this.queue.length === 0) return undefined;
    const batch = this.queue.splice(0, MAX_BATCH);
    const jobs: VerifyJob[] = [];
    for (const item of batch) if (item.kind === 'verify') jobs.push(item.job);
    return this.o.verifier.verifyBatch(jobs).then(
      (outcomes) => ({ batch, outcomes }),
      (err: Error) => {
        this.o.log.error({ event: 'verify-failed', err: err.message, batch: jobs.length });
        const outcomes: VerifyOutcome[] = jobs.map(() => ({
          ok: false,
          reason: 'internal-error',
          detail: 'verification failed',
        }));
        return { batch, outcomes };
      },
    );
  }

  private apply(batch: Queued[], outcomes: VerifyOutcome[]): void {
    let k = 0;
    try {
      this.o.ledger.transaction(
        () => {
          for (const item of batch) {
            if (item.kind === 'gap-timeout') this.safely(() => this.closeGaps(item.gw), { gw: item.gw });
            else if (item.kind === 'refused') {
              this.safely(
                () =>
                  this.refuse(item.reason, item.detail, {
                    topic: item.topic,
                    ...(item.gw ? { gw: item.gw } : {}),
                    ...(item.hash ? { hash: item.hash, known: true } : {}),
                  }),
                { topic: item.topic },
              );
            } else {
              const outcome = outcomes[k++] as VerifyOutcome;
              this.safely(() => this.verified(item, outcome), { topic: item.topic });
            }
          }
          // Group commit: no fsync per batch. Accepted entries' receipts wait for the checkpoint
          // that covers them, whose commit syncs the log (see Ledger.transaction).
        },
        { groupCommit: true },
      );
    } catch (err) {
      // The commit itself failed (disk full, I/O error): nothing of the batch is in the log, so
      // no receipts go out and the gateways will send again.
      this.o.bindings.clearCache();
      this.heads.clear();
      this.o.receipts.discardUncommitted();
      this.o.log.error({ event: 'ingest-commit-failed', err: (err as Error).message, batch: batch.length });
    }
    this.o.receipts.commit();
    this.o.afterCommit?.();
  }

  private head(gw: string): { seq: number; hash: Uint8Array } | undefined {
    let h = this.heads.get(gw);
    if (h === undefined) {
      const e = this.o.ledger.gatewayHead(gw);
      h = e && e.seq !== null ? { seq: e.seq, hash: e.messageHash } : null;
      this.heads.set(gw, h);
    }
    return h ?? undefined;
  }

  private safely(fn: () => void, context: Record<string, unknown>): void {
    try {
      fn();
    } catch (err) {
      this.o.stats.reject('internal-error');
      this.o.log.error(
        { event: 'ingest-error', ...context, err: (err as Error).message },
        'message handling failed',
      );
    }
  }

  private refuse(
    reason: string,
    detail: string,
    ctx: { topic: string; gw?: string; seq?: number; hash?: Uint8Array; known?: boolean },
  ): undefined {
    this.o.stats.reject(reason);
    this.o.log.warn({
      event: 'message-rejected',
      reason,
      detail,
      topic: ctx.topic,
      gw: ctx.gw,
      seq: ctx.seq,
    });
    if (ctx.known && ctx.gw && ctx.hash) {
      this.o.receipts.rejected({
        status: 'rejected',
        gw: ctx.gw,
        ...(ctx.seq !== undefined ? { seq: ctx.seq } : {}),
        messageHash: b64url.encode(ctx.hash),
        reason,
        detail: detail.slice(0, 1000).replace(/\p{Cc}/gu, ' ') || reason,
      });
    }
  }

  private verified(item: Extract<Queued, { kind: 'verify' }>, outcome: VerifyOutcome): undefined {
    const { topic, gw, hash, receivedMs } = item;
    if (!outcome.ok) {
      return this.refuse(outcome.reason, outcome.detail, {
        topic,
        gw,
        hash,
        known: true,
        ...(outcome.seq !== undefined ? { seq: outcome.seq } : {}),
      });
    }
    if (outcome.typ === GATEWAY_STATUS_TYP) return this.status(outcome.payload as GatewayStatus, receivedMs);
    const p = outcome.payload as { gw: string; seq: number; prev: string | null };
    this.chained(
      { gw, seq: p.seq, prev: p.prev, typ: outcome.typ, jws: item.job.text, hash, receivedMs },
      topic,
    );
  }

  private status(s: GatewayStatus, receivedMs: number): undefined {
    const known = this.fleet.get(s.gw);
    // A retained or late status older than the one we have does not roll the state back.
    if (known && known.lastStatusAt > s.at) return;
    this.fleet.set(s.gw, { gw: s.gw, state: s.state, version: s.version, lastStatusAt: s.at, receivedMs });
    this.o.stats.statusUpdates++;
  }

  private chained(m: ChainedMessage, topic: string): undefined {
    const { ledger } = this.o;
    const head = this.head(m.gw);
    // Only a seq at or below the head can already be in the log.
    const inLog = head && m.seq <= head.seq ? ledger.entryByGatewaySeq(m.gw, m.seq) : undefined;
    if (inLog) {
      if (bytesEqual(inLog.messageHash, m.hash)) {
        this.o.stats.duplicates++;
        this.o.receipts.inLedger(inLog, 'duplicate');
        return;
      }
      return this.equivocation(m, inLog.messageHash, inLog.index, topic);
    }
    const waiting = this.pending.get(m.gw)?.get(m.seq);
    if (waiting) {
      if (bytesEqual(waiting.hash, m.hash)) return; // already held; its receipt comes when it is appended
      return this.equivocation(m, waiting.hash, null, topic);
    }
    const next = head ? head.seq + 1 : 0;
    if (m.seq === next) {
      if (head && m.prev !== b64url.encode(head.hash)) {
        return this.refuse('prev-mismatch', `prev does not name the hash of seq ${head.seq}`, {
          topic,
          gw: m.gw,
          seq: m.seq,
          hash: m.hash,
          known: true,
        });
      }
      this.append(m, 'accepted');
      this.drain(m.gw);
      return;
    }
    if (m.seq > next) return this.hold(m, topic);
    // Below the head and not in the log: only possible inside a recorded gap. Accept it if it links.
    const below = m.seq > 0 ? ledger.entryByGatewaySeq(m.gw, m.seq - 1) : undefined;
    if (below && m.prev !== b64url.encode(below.messageHash)) {
      return this.refuse('prev-mismatch', `prev does not name the hash of seq ${m.seq - 1}`, {
        topic,
        gw: m.gw,
        seq: m.seq,
        hash: m.hash,
        known: true,
      });
    }
    const above = ledger.entryByGatewaySeq(m.gw, m.seq + 1);
    if (above && prevOf(above.jws) !== b64url.encode(m.hash)) {
      return this.refuse('late-no-link', `seq ${m.seq + 1} in the log does not name this message as prev`, {
        topic,
        gw: m.gw,
        seq: m.seq,
        hash: m.hash,
        known: true,
      });
    }
    this.append(m, 'accepted');
    this.o.stats.lateFills++;
  }

  private append(m: ChainedMessage, status: 'accepted'): Entry {
    const [entry] = this.o.ledger.append([
      { jws: m.jws, typ: m.typ, kid: m.gw, gw: m.gw, seq: m.seq, receivedMs: m.receivedMs },
    ]);
    if (!entry) throw new Error('append returned no entry');
    const head = this.head(m.gw);
    if (!head || m.seq > head.seq) this.heads.set(m.gw, { seq: m.seq, hash: entry.messageHash });
    this.o.stats.accepted++;
    this.o.receipts.inLedger(entry, status);
    return entry;
  }

  /** Appends held messages that now continue the chain. */
  private drain(gw: string): void {
    const held = this.pending.get(gw);
    if (!held) return;
    for (;;) {
      const head = this.head(gw);
      const next = head ? head.seq + 1 : 0;
      const m = held.get(next);
      if (!m) break;
      held.delete(next);
      this.o.stats.pending--;
      if (head && m.prev !== b64url.encode(head.hash)) {
        this.refuse('prev-mismatch', `prev does not name the hash of seq ${head.seq}`, {
          topic: `${TOPIC_PREFIX}${gw}`,
          gw,
          seq: m.seq,
          hash: m.hash,
          known: true,
        });
        continue;
      }
      this.append(m, 'accepted');
    }
    if (held.size === 0) this.clearHold(gw);
  }

  private hold(m: ChainedMessage, topic: string): undefined {
    let held = this.pending.get(m.gw);
    if (!held) {
      held = new Map();
      this.pending.set(m.gw, held);
    }
    if (held.size >= (this.o.maxPendingPerGateway ?? 1000)) {
      return this.refuse(
        'too-far-ahead',
        `already holding ${held.size} messages waiting for a gap to close`,
        {
          topic,
          gw: m.gw,
          seq: m.seq,
          hash: m.hash,
          known: true,
        },
      );
    }
    held.set(m.seq, m);
    this.o.stats.pending++;
    this.o.log.info(
      { event: 'gap-wait', gw: m.gw, seq: m.seq, waitMs: this.o.gapWaitMs },
      'holding a message after a gap',
    );
    if (!this.gapTimers.has(m.gw)) {
      const timer = setTimeout(() => {
        this.gapTimers.delete(m.gw);
        if (this.stopped) return;
        this.queue.push({ kind: 'gap-timeout', gw: m.gw });
        this.schedule();
      }, this.o.gapWaitMs);
      timer.unref();
      this.gapTimers.set(m.gw, timer);
    }
  }

  private clearHold(gw: string): undefined {
    this.pending.delete(gw);
    const t = this.gapTimers.get(gw);
    if (t) clearTimeout(t);
    this.gapTimers.delete(gw);
  }

  /** The wait is over: record each remaining gap with a hub-signed note and append what was held. */
  private closeGaps(gw: string): undefined {
    const held = this.pending.get(gw);
    if (!held || held.size === 0) return this.clearHold(gw);
    while (held.size > 0) {
      const head = this.head(gw);
      const next = head ? head.seq + 1 : 0;
      const first = Math.min(...held.keys());
      if (first > next) {
        const note: GapNote = {
          gw,
          from: next,
          to: first - 1,
          reason: `not received within ${this.o.gapWaitMs} ms of seq ${first}`,
          at: this.now(),
        };
        const jws = signMessage(GAP_NOTE_TYP, this.o.hubKey.hubId, note, this.o.hubKey.secretKey);
        this.o.ledger.append([
          { jws, typ: GAP_NOTE_TYP, kid: this.o.hubKey.hubId, gw: null, seq: null, receivedMs: this.now() },
        ]);
        this.o.stats.gapNotes++;
        this.o.log.warn(
          { event: 'gap-recorded', gw, from: next, to: first - 1 },
          'gap recorded in the ledger',
        );
        const m = held.get(first) as ChainedMessage;
        held.delete(first);
        this.o.stats.pending--;
        this.append(m, 'accepted');
      }
      this.drain(gw);
      if (!this.pending.has(gw)) return;
    }
    this.clearHold(gw);
  }

  private equivocation(
    m: ChainedMessage,
    otherHash: Uint8Array,
    otherIndex: number | null,
    topic: string,
  ): undefined {
    const stored = this.o.equivocations.add({
      gw: m.gw,
      seq: m.seq,
      jws: m.jws,
      messageHash: m.hash,
      conflictingHash: otherHash,
      conflictingIndex: otherIndex,
      receivedMs: m.receivedMs,
    });
    const detail = `a different message under seq ${m.seq} is ${otherIndex === null ? 'held' : `in the log at index ${otherIndex}`}; kept as evidence`;
    if (stored) {
      this.o.stats.equivocations++;
      this.o.log.error(
        { event: 'equivocation', gw: m.gw, seq: m.seq, conflictingIndex: otherIndex },
        'gateway equivocated',
      );
      this.o.onAlert?.({ kind: 'equivocation', gw: m.gw, seq: m.seq, detail });
    }
    this.refuse('equivocation', detail, { topic, gw: m.gw, seq: m.seq, hash: m.hash, known: true });
  }
}

function prevOf(jws: string): string | null | undefined {
  const p = decodeJwsUnverified(jws)?.payload as { prev?: unknown } | undefined;
  return typeof p?.prev === 'string' || p?.prev === null ? p.prev : undefined;
}
