// The contract watcher: keeps checking, on a schedule, every contract this gateway meters, and
// signs a fulfilment event for each side it meters once the window has closed (watcher-core.ts
// decides). Its dependencies are passed in: the clock, where its proofs come from, the persisted
// "have I already signed this" and the function that signs and enqueues an event in the outbox —
// which must also record it as signed in the same transaction, so a restart never signs twice.
import type { ChainLink } from '../outbox.js';
import {
  decideFulfilments,
  FULFILMENT_TYP,
  type FulfilmentBody,
  metersOf,
  type OwnProof,
  type Role,
  rolesOf,
  type WatchedContract,
  type WatchStep,
} from './watcher-core.js';

export interface WatcherClock {
  now(): number;
  /** Calls fn after ms; returns a cancel function. */
  after(ms: number, fn: () => void): () => void;
}

export interface ContractWatcherDeps {
  gatewayId: string;
  clock: WatcherClock;
  /** The contracts to watch (persisted, e.g. ContractWatchStore.contracts). */
  contracts: () => readonly WatchedContract[];
  /** This gateway's proofs of the given meters overlapping the window. */
  proofsIn: (meters: readonly string[], window: { start: number; end: number }) => readonly OwnProof[];
  alreadySigned: (contractId: string, role: Role) => boolean;
  /**
   * Signs the event the build function returns for the chain link it is given, stores it in the
   * outbox, and marks (contractId, role) signed — all in one transaction.
   */
  signAndEnqueue: (
    contractId: string,
    role: Role,
    build: (link: ChainLink) => { typ: string; payload: unknown },
  ) => void;
  /** Wait this long after a window for missing proofs before signing without them. Default 30 min. */
  graceMs?: number;
  /** How often to check. Default 60 s. */
  recheckMs?: number;
  onEvent?: (e: WatcherEvent) => void;
}

export type WatcherEvent =
  | { kind: 'signed'; contract: string; role: Role; body: FulfilmentBody }
  | { kind: 'sign-failed'; contract: string; role: Role; error: string };

export const DEFAULT_GRACE_MS = 30 * 60_000;
export const DEFAULT_RECHECK_MS = 60_000;

export class ContractWatcher {
  private cancel: (() => void) | undefined;
  private running = false;

  constructor(private readonly deps: ContractWatcherDeps) {}

  /** One pass over every watched contract; returns what it decided for each side. */
  check(): { contract: string; steps: WatchStep[] }[] {
    const { deps } = this;
    const now = deps.clock.now();
    const out: { contract: string; steps: WatchStep[] }[] = [];
    for (const watched of deps.contracts()) {
      const roles = rolesOf(watched.contract, deps.gatewayId);
      if (roles.length === 0) continue;
      const meters = roles.flatMap((r) => metersOf(watched.contract, deps.gatewayId, r));
      const steps = decideFulfilments({
        watched,
        gw: deps.gatewayId,
        now,
        proofs: deps.proofsIn(meters, watched.contract.window),
        alreadySigned: deps.alreadySigned,
        graceMs: deps.graceMs ?? DEFAULT_GRACE_MS,
      });
      for (const step of steps) {
        if (step.action !== 'sign') continue;
        try {
          deps.signAndEnqueue(watched.id, step.role, (link) => ({
            typ: FULFILMENT_TYP,
            payload: { gw: link.gw, seq: link.seq, prev: link.prev, ...step.body },
          }));
          deps.onEvent?.({ kind: 'signed', contract: watched.id, role: step.role, body: step.body });
        } catch (err) {
          // Not signed (e.g. the disk is full): the next check tries again; nothing was marked.
          deps.onEvent?.({ kind: 'sign-failed', contract: watched.id, role: step.role, error: String(err) });
        }
      }
      out.push({ contract: watched.id, steps });
    }
    return out;
  }

  /** Checks now and then every recheckMs until stop(). */
  start(): void {
    if (this.running) return;
    this.running = true;
    const tick = () => {
      if (!this.running) return;
      this.check();
      this.cancel = this.deps.clock.after(this.deps.recheckMs ?? DEFAULT_RECHECK_MS, tick);
    };
    tick();
  }

  stop(): void {
    this.running = false;
    this.cancel?.();
    this.cancel = undefined;
  }
}
