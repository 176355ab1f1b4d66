// Ledger.leaves: the lean read the engine's fold uses must give exactly what range() gives of the
// same entries (index, leaf, message hash, typ), on any range, and refuse a bad one by name.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AppendInput, type Entry, type Leaf, Ledger, MAX_LEAVES, MAX_RANGE } from './ledger.js';

// The ledger stores leaves as given (ingest verified them); texts that only look like compact
// JWS keep this test fast. Distinct texts, so distinct message hashes.
function input(i: number): AppendInput {
  const typ = ['a.note.v1', 'b.proof.v1', 'c.price.v1'][i % 3] as string;
  const chained = typ === 'b.proof.v1';
  return {
    jws: `eyJ${i.toString(36)}.cGF5bG9hZC${i}.c2ln${i % 7}`,
    typ,
    kid: `kid-${i % 5}`,
    gw: chained ? `gw-${i % 4}` : null,
    seq: chained ? i : null,
    receivedMs: 1_000 + i,
  };
}

const leafOf = (e: Entry): Leaf => ({ index: e.index, jws: e.jws, messageHash: e.messageHash, typ: e.typ });

/** Compares as plain data: a Buffer over the row's bytes equals a Uint8Array of the same bytes. */
const plain = (l: Leaf) => ({ ...l, messageHash: [...l.messageHash] });

/** range() read page by page over [start, end), as a caller of range() has to. */
function rangeAll(ledger: Ledger, start: number, end: number): Entry[] {
  const out: Entry[] = [];
  for (let i = start; i < Math.min(end, ledger.size); ) {
    const page = ledger.range(i, end);
    if (page.length === 0) break;
    out.push(...page);
    i += page.length;
  }
  return out;
}

const SIZE = 2 * MAX_LEAVES + 1_234;
let dir: string;
let db: Database.Database;
let ledger: Ledger;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'wattproof-ledger-leaves-'));
  db = new Database(path.join(dir, 'ledger.db'));
  ledger = new Ledger(db);
  for (let i = 0; i < SIZE; i += 1_000)
    ledger.append(Array.from({ length: Math.min(1_000, SIZE - i) }, (_, k) => input(i + k)));
});

afterAll(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('Ledger.leaves', () => {
  it('gives the index, leaf, message hash and typ range() gives, on random ranges and at the edges', () => {
    expect(ledger.size).toBe(SIZE);
    // A fixed-seed generator: the same ranges on every run.
    let seed = 0x2545f491;
    const rand = (n: number) => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    const ranges: [number, number][] = [
      [0, 0],
      [0, 1],
      [0, MAX_RANGE],
      [0, MAX_RANGE + 1],
      [SIZE - 1, SIZE],
      [SIZE - 5, SIZE + 100], // end beyond the size: clamped, as range() does
      [SIZE, SIZE + 10], // start at the size: nothing
      [SIZE + 3, SIZE + 10], // start beyond the size: nothing
      [7, 3], // end before start: nothing
      [42, 42],
    ];
    for (let k = 0; k < 40; k++) {
      const start = rand(SIZE + 10);
      ranges.push([start, start + rand(3 * MAX_RANGE)]);
    }
    for (const [start, end] of ranges) {
      const lean = ledger.leaves(start, end);
      const full = rangeAll(ledger, start, end).slice(0, MAX_LEAVES);
      expect(lean.map(plain), `leaves(${start}, ${end})`).toEqual(full.map(leafOf).map(plain));
      for (const l of lean) expect(Object.keys(l).sort()).toEqual(['index', 'jws', 'messageHash', 'typ']);
    }
    // And entry by entry for the first page, against entry() as well.
    const first = ledger.leaves(0, 50);
    for (const l of first) expect(plain(l)).toEqual(plain(leafOf(ledger.entry(l.index) as Entry)));
  });

  it('returns at most MAX_LEAVES a call, so the whole log is read page after page', () => {
    const page = ledger.leaves(0, SIZE);
    expect(page.length).toBe(MAX_LEAVES);
    expect(page[0]?.index).toBe(0);
    expect(page.at(-1)?.index).toBe(MAX_LEAVES - 1);
    // The last page: what is left, end far beyond the size.
    const last = ledger.leaves(SIZE - (SIZE % MAX_LEAVES), Number.MAX_SAFE_INTEGER);
    expect(last.map((l) => l.index)).toEqual(
      Array.from({ length: SIZE % MAX_LEAVES }, (_, i) => SIZE - (SIZE % MAX_LEAVES) + i),
    );
    // Every leaf once, in order, as range() pages give them.
    const all: Leaf[] = [];
    for (let i = 0; i < SIZE; ) {
      const next = ledger.leaves(i, SIZE);
      expect(next.length).toBe(Math.min(MAX_LEAVES, SIZE - i));
      all.push(...next);
      i += next.length;
    }
    expect(all.map(plain)).toEqual(rangeAll(ledger, 0, SIZE).map(leafOf).map(plain));
  });

  it('refuses a start that is negative or not an integer, and an end that is not an integer, naming it', () => {
    expect(() => ledger.leaves(-1, 10)).toThrow(/leaves: start must be an integer >= 0 \(got -1\)/);
    expect(() => ledger.leaves(1.5, 10)).toThrow(/start must be an integer/);
    expect(() => ledger.leaves(Number.NaN, 10)).toThrow(/start must be an integer/);
    expect(() => ledger.leaves(0, 2.5)).toThrow(/leaves: end must be an integer \(got 2.5\)/);
    expect(() => ledger.leaves(0, Number.POSITIVE_INFINITY)).toThrow(/end must be an integer/);
    expect(() => ledger.leaves(0, Number.NaN)).toThrow(/end must be an integer/);
    expect(() => ledger.leaves(-1, 10)).toThrow(RangeError);
  });

  it('reads what was appended after an earlier read (the statement is not left open)', () => {
    const before = ledger.size;
    const [e] = ledger.append([input(SIZE + 1)]);
    expect(ledger.leaves(before, before + 1).map(plain)).toEqual([plain(leafOf(e as Entry))]);
  });
});
