// The one-line status: rewritten in place on a terminal, printed as plain lines otherwise (logs,
// CI, the tests that read the demo's output).

export interface StatusFigures {
  virtualMs: number;
  homes: number;
  online: number;
  /** Homes with at least one proof in the ledger. */
  homesWithProofs: number;
  proofsSigned: number;
  proofsInLedger: number;
  entries: number;
  checkpoint: { size: number; ageMs: number } | undefined;
  contracts: string;
}

function hhmm(ms: number): string {
  return new Date(ms).toISOString().slice(5, 16).replace('T', ' ');
}

export function formatStatus(f: StatusFigures): string {
  const cp = f.checkpoint
    ? `checkpoint ${f.checkpoint.size} (${(f.checkpoint.ageMs / 1000).toFixed(1)} s ago)`
    : 'no checkpoint yet';
  return [
    `sim ${hhmm(f.virtualMs)}Z`,
    `homes ${f.online}/${f.homes} online, ${f.homesWithProofs} with proofs`,
    `proofs ${f.proofsSigned} signed, ${f.proofsInLedger} in ledger`,
    `entries ${f.entries}`,
    cp,
    `contracts ${f.contracts}`,
  ].join(' | ');
}

export class StatusLine {
  private lastPlain = 0;
  private shown = false;

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly plainEveryMs: number,
  ) {}

  get isTty(): boolean {
    return this.out.isTTY === true;
  }

  /** Shows the status: in place on a terminal, at most every `plainEveryMs` as a line otherwise. */
  update(line: string, now = Date.now()): void {
    if (this.isTty) {
      const width = this.out.columns ?? 120;
      this.out.write(`\r\x1b[2K${line.length > width - 1 ? `${line.slice(0, width - 2)}…` : line}`);
      this.shown = true;
    } else if (now - this.lastPlain >= this.plainEveryMs) {
      this.lastPlain = now;
      this.out.write(`status: ${line}\n`);
    }
  }

  /** A message on a line of its own (the status line is redrawn after it). */
  print(text: string): void {
    if (this.isTty && this.shown) this.out.write('\r\x1b[2K');
    this.out.write(`${text}\n`);
    this.shown = false;
  }

  end(): void {
    if (this.isTty && this.shown) this.out.write('\n');
    this.shown = false;
  }
}
