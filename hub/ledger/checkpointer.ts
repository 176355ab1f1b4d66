// Makes a checkpoint every `every` entries or `intervalMs` after the first entry it does not yet
// cover, whichever comes first, and tells its listener (receipts, hub/status).
import type { Ledger, StoredCheckpoint } from './ledger.js';

export interface CheckpointerOptions {
  every: number;
  intervalMs: number;
  onCheckpoint: (cp: StoredCheckpoint) => void;
  onError?: (err: Error) => void;
}

export class Checkpointer {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly ledger: Ledger,
    private readonly o: CheckpointerOptions,
  ) {}

  /** Call after appends were committed. */
  afterCommit(): void {
    const covered = this.ledger.latestCheckpoint()?.size ?? 0;
    const uncovered = this.ledger.size - covered;
    if (uncovered <= 0) return;
    if (uncovered >= this.o.every) this.make();
    else if (!this.timer) {
      this.timer = setTimeout(() => this.make(), this.o.intervalMs);
      this.timer.unref();
    }
  }

  /** Checkpoints now (if anything is uncovered). */
  make(): StoredCheckpoint | undefined {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    try {
      const before = this.ledger.latestCheckpoint()?.size ?? 0;
      const cp = this.ledger.checkpoint();
      if (cp && cp.size > before) this.o.onCheckpoint(cp);
      return cp;
    } catch (err) {
      this.o.onError?.(err as Error);
      return undefined;
    }
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
