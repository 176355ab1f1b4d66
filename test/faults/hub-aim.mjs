// Preloaded into the hub process by the hub SIGKILL scenario (`node --import <this> dist/hub/cli.js
// start`) so a kill can be aimed at a moment that lasts microseconds otherwise: the hub stops at
// the Nth time it reaches the point named by WATTPROOF_FAULT_AIM, says so on stderr, and waits
// there for the SIGKILL. Nothing in hub/ knows about it; it wraps the built Ledger's methods (the
// one module instance the CLI uses). Points:
//   append             a leaf row is written inside the append transaction, not yet committed
//                      (ingest batches and the engine's own entries)
//   checkpoint-signed  the checkpoint note is signed, its row not yet written
//   checkpoint-stored  the checkpoint row is committed, its receipts not yet published
import { writeSync } from 'node:fs';

const aim = process.env.WATTPROOF_FAULT_AIM;
const nth = Number(process.env.WATTPROOF_FAULT_AIM_NTH ?? '1');

if (aim) {
  const { Ledger } = await import(new URL('../../dist/hub/ledger/ledger.js', import.meta.url).href);
  let seen = 0;
  const reach = (point) => {
    if (point !== aim) return;
    seen++;
    if (seen !== nth) return;
    writeSync(2, `wattproof-fault-aim reached ${point}\n`);
    // Holds the event loop (and any open transaction) until the test's SIGKILL lands; goes on
    // after a minute if none comes.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000);
  };
  // Swaps one prepared statement of the ledger (a private field, reachable from JS) for the call.
  const around = (ledger, name, before, after) => {
    const st = ledger.st;
    const original = st[name];
    st[name] = {
      run: (...args) => {
        if (before) reach(before);
        const r = original.run(...args);
        if (after) reach(after);
        return r;
      },
    };
    return () => {
      st[name] = original;
    };
  };
  const append = Ledger.prototype.append;
  Ledger.prototype.append = function (...args) {
    const restore = around(this, 'insertEntry', undefined, 'append');
    try {
      return append.apply(this, args);
    } finally {
      restore();
    }
  };
  const checkpoint = Ledger.prototype.checkpoint;
  Ledger.prototype.checkpoint = function (...args) {
    const restore = around(this, 'insertCheckpoint', 'checkpoint-signed', 'checkpoint-stored');
    try {
      return checkpoint.apply(this, args);
    } finally {
      restore();
    }
  };
}
