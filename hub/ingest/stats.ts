// Counters of what ingest did, by outcome and by refusal reason; served at GET /v1/stats.
export class IngestStats {
  accepted = 0;
  duplicates = 0;
  lateFills = 0;
  gapNotes = 0;
  equivocations = 0;
  pending = 0;
  receiptsSent = 0;
  statusUpdates = 0;
  readonly rejected = new Map<string, number>();

  reject(reason: string): void {
    this.rejected.set(reason, (this.rejected.get(reason) ?? 0) + 1);
  }

  rejectedTotal(): number {
    let n = 0;
    for (const v of this.rejected.values()) n += v;
    return n;
  }

  toJSON(): Record<string, unknown> {
    return {
      accepted: this.accepted,
      duplicates: this.duplicates,
      lateFills: this.lateFills,
      gapNotes: this.gapNotes,
      equivocations: this.equivocations,
      pending: this.pending,
      receiptsSent: this.receiptsSent,
      statusUpdates: this.statusUpdates,
      rejected: Object.fromEntries([...this.rejected.entries()].sort()),
      rejectedTotal: this.rejectedTotal(),
    };
  }
}
