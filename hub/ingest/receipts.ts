// Receipts to gateways on gw/{id}/receipt. An accepted or duplicate receipt is sent only once a
// signed checkpoint covers its entry, and carries that checkpoint and the inclusion proof, so the
// agent can check it on its own before deleting the message from its outbox. Rejections go out as
// soon as the batch that decided them is committed.
import type { LedgerReceipt, RejectedReceipt } from '../../protocol/messages/index.js';
import type { Entry, Ledger, StoredCheckpoint } from '../ledger/ledger.js';
import type { IngestStats } from './stats.js';

export type Publish = (topic: string, payload: string) => void;

/** base64url without padding (protocol's b64url.encode), by Node's native encoder. */
const base64url = (h: Uint8Array): string =>
  Buffer.from(h.buffer, h.byteOffset, h.byteLength).toString('base64url');

export const receiptTopic = (gw: string): string => `wattproof/v1/gw/${gw}/receipt`;

interface Waiting {
  entry: Entry;
  status: 'accepted' | 'duplicate';
}

export class ReceiptQueue {
  private uncommitted: Waiting[] = [];
  private uncommittedRejections: RejectedReceipt[] = [];
  private waiting: Waiting[] = [];

  constructor(
    private readonly ledger: Ledger,
    private readonly publish: Publish,
    private readonly stats: IngestStats,
  ) {}

  inLedger(entry: Entry, status: 'accepted' | 'duplicate'): void {
    this.uncommitted.push({ entry, status });
  }

  rejected(r: RejectedReceipt): void {
    this.uncommittedRejections.push(r);
  }

  discardUncommitted(): void {
    this.uncommitted = [];
    this.uncommittedRejections = [];
  }

  /** The batch is durable: rejections go out, accepted entries wait for their checkpoint. */
  commit(): void {
    for (const r of this.uncommittedRejections) this.send(r.gw, r);
    this.uncommittedRejections = [];
    this.waiting.push(...this.uncommitted);
    this.uncommitted = [];
    const latest = this.ledger.latestCheckpoint();
    if (latest) this.onCheckpoint(latest);
  }

  get waitingCount(): number {
    return this.waiting.length;
  }

  /** Sends every waiting receipt this checkpoint covers. */
  onCheckpoint(cp: StoredCheckpoint): void {
    const still: Waiting[] = [];
    const proofs = this.ledger.proofSource();
    // The receipts of one checkpoint share most proof hashes (the same objects from `proofs`):
    // each is encoded once.
    const encoded = new Map<Uint8Array, string>();
    const encode = (h: Uint8Array): string => {
      let text = encoded.get(h);
      if (text === undefined) {
        text = base64url(h);
        encoded.set(h, text);
      }
      return text;
    };
    for (const w of this.waiting) {
      if (w.entry.index >= cp.size || w.entry.gw === null || w.entry.seq === null) {
        if (w.entry.index >= cp.size) still.push(w);
        continue;
      }
      const receipt: LedgerReceipt = {
        status: w.status,
        gw: w.entry.gw,
        seq: w.entry.seq,
        messageHash: base64url(w.entry.messageHash),
        index: w.entry.index,
        leafHash: base64url(w.entry.leafHash),
        checkpoint: cp.note,
        inclusionProof: this.ledger.inclusionProof(w.entry.index, cp.size, proofs).map(encode),
      };
      this.send(w.entry.gw, receipt);
    }
    this.waiting = still;
  }

  private send(gw: string, receipt: LedgerReceipt | RejectedReceipt): void {
    this.publish(receiptTopic(gw), JSON.stringify(receipt));
    this.stats.receiptsSent++;
  }
}
