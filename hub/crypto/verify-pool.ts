// Message verification off the main thread: signature checks and schema parsing are most of the
// hub's CPU per message, and they depend on nothing but the message and the key, so they run in
// worker threads while the main thread keeps the ledger (whose order and state stay in one
// place). Batches keep their order; results come back in the order the jobs went in.
// With 0 workers everything runs on the main thread (same code, same answers).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { Ed25519Verifier } from './fast-verify.js';
import { type VerifyJob, type VerifyOutcome, verifyJob } from './verify-jobs.js';

export interface MessageVerifier {
  verifyBatch(jobs: VerifyJob[]): Promise<VerifyOutcome[]>;
  close(): Promise<void>;
}

export class InThreadVerifier implements MessageVerifier {
  private readonly verifier = new Ed25519Verifier();

  async verifyBatch(jobs: VerifyJob[]): Promise<VerifyOutcome[]> {
    return jobs.map((j) => {
      try {
        return verifyJob(j, this.verifier);
      } catch (err) {
        return { ok: false, reason: 'internal-error', detail: (err as Error).message };
      }
    });
  }

  async close(): Promise<void> {}
}

/**
 * How to start the worker beside this module: the built .js directly; from source (tests, tsx)
 * the .ts through tsx's loader, registered inside the worker because Node 20 does not pass
 * `--import` loaders on to worker threads.
 */
function workerSpec(): { script: string | URL; eval: boolean } | undefined {
  const fromSource = import.meta.url.endsWith('.ts');
  const url = new URL(fromSource ? './verify-worker.ts' : './verify-worker.js', import.meta.url);
  if (!existsSync(fileURLToPath(url))) return undefined;
  if (!fromSource) return { script: url, eval: false };
  const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(url.href)}); })`;
  return { script: `${boot}.catch((e) => { console.error(e); process.exit(1); });`, eval: true };
}

interface Pending {
  resolve: (r: VerifyOutcome[]) => void;
  reject: (e: Error) => void;
}

export class WorkerPoolVerifier implements MessageVerifier {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private closed = false;
  /** Set when a worker died: from then on verification runs on the main thread. */
  private broken: Error | undefined;
  private readonly fallback = new InThreadVerifier();

  private constructor(
    size: number,
    spec: { script: string | URL; eval: boolean },
    private readonly onBroken?: (err: Error) => void,
  ) {
    for (let i = 0; i < size; i++) {
      const w = new Worker(spec.script, { eval: spec.eval });
      w.on('message', (m: { id: number; results: VerifyOutcome[] }) => {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        p?.resolve(m.results);
      });
      w.on('error', (err) => this.fail(err));
      w.on('exit', (code) => {
        if (!this.closed) this.fail(new Error(`a verify worker exited (${code})`));
      });
      this.workers.push(w);
    }
  }

  /** A pool of `size` workers, or undefined when the worker script cannot be found. */
  static create(size: number, onBroken?: (err: Error) => void): WorkerPoolVerifier | undefined {
    const spec = workerSpec();
    return spec && size > 0 ? new WorkerPoolVerifier(size, spec, onBroken) : undefined;
  }

  private fail(err: Error): void {
    if (!this.broken) {
      this.broken = err;
      this.onBroken?.(err);
    }
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  /** Splits the batch across the workers; the outcomes come back in job order. */
  async verifyBatch(jobs: VerifyJob[]): Promise<VerifyOutcome[]> {
    if (jobs.length === 0) return [];
    if (this.closed) throw new Error('the verify pool is closed');
    if (this.broken) return this.fallback.verifyBatch(jobs);
    const per = Math.ceil(jobs.length / this.workers.length);
    const parts: Promise<VerifyOutcome[]>[] = [];
    for (let i = 0; i < this.workers.length && i * per < jobs.length; i++) {
      const id = this.nextId++;
      parts.push(
        new Promise((resolve, reject) => {
          this.pending.set(id, { resolve, reject });
          this.workers[i]?.postMessage({ id, jobs: jobs.slice(i * per, (i + 1) * per) });
        }),
      );
    }
    try {
      return (await Promise.all(parts)).flat();
    } catch {
      return this.fallback.verifyBatch(jobs);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** `workers` threads when possible, else the main thread. */
export function createMessageVerifier(workers: number, onBroken?: (err: Error) => void): MessageVerifier {
  return (workers > 0 ? WorkerPoolVerifier.create(workers, onBroken) : undefined) ?? new InThreadVerifier();
}
