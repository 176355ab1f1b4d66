// The watcher's "sign & enqueue" on the agent's real outbox: the event is signed with the next
// chain link, stored, and marked signed in the store within one SQLite transaction, so after a
// crash either both happened or neither did — a restart never signs a second event for a side.
import { formatIssues, parseFulfilmentEvent } from '../../protocol/messages/index.js';
import type { ChainLink, Outbox } from '../outbox.js';
import type { ContractWatchStore } from './store.js';
import type { Role } from './watcher-core.js';

export function enqueueOnOutbox(outbox: Outbox, store: ContractWatchStore, now: () => number) {
  if (store.db !== outbox.db)
    throw new Error(
      'the contract watch store must use the outbox database, so signing and marking commit together',
    );
  return (
    contractId: string,
    role: Role,
    build: (link: ChainLink) => { typ: string; payload: unknown },
  ): void => {
    let seq = -1;
    const at = now();
    outbox.appendSigned(
      'event',
      (link) => {
        seq = link.seq;
        const built = build(link);
        // Never sign what the hub must refuse.
        const parsed = parseFulfilmentEvent(built.payload);
        if (!parsed.ok) throw new Error(`fulfilment event would be invalid: ${formatIssues(parsed.issues)}`);
        return built;
      },
      at,
      () => store.markSigned(contractId, role, seq, at),
    );
  };
}
