// The ledger's RFC 6962 tree with node:crypto's SHA-256 (OpenSSL, several times faster in Node than
// protocol's pure-JavaScript hash, which stays for browsers). Same algorithms as protocol/merkle.ts,
// same bytes: tree.test.ts pins the accumulator, roots and proofs to protocol's.
//
// ProofSource answers many proofs against one tree size (every receipt of a checkpoint): it
// remembers the hash of each range it computed, so the right edge of the tree, which every proof
// of that size needs, is hashed once per checkpoint rather than once per receipt.
import { createHash } from 'node:crypto';
import { EMPTY_ROOT, type Subtree, type SubtreeSource } from '../../protocol/index.js';

const NODE_PREFIX = Buffer.of(1);

/** SHA-256(0x01 || left || right): protocol's nodeHash. */
export function nodeHashOf(left: Uint8Array, right: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(NODE_PREFIX).update(left).update(right).digest());
}

/** The largest power of two strictly below n (n ≥ 2). */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** protocol's MerkleAccumulator with node:crypto: the right edge, and the subtrees each append completes. */
export class TreeAccumulator {
  private frontier: Uint8Array[] = [];
  private n = 0;

  /** Rebuilds the right edge of a tree of `size` leaves from stored subtrees. */
  static restore(size: number, hashAt: SubtreeSource): TreeAccumulator {
    const acc = new TreeAccumulator();
    let start = 0;
    for (let level = Math.floor(Math.log2(Math.max(size, 1))) + 1; level >= 0; level--) {
      const width = 2 ** level;
      if (start + width <= size) {
        acc.frontier.push(hashAt(level, start / width));
        start += width;
      }
    }
    acc.n = size;
    return acc;
  }

  get size(): number {
    return this.n;
  }

  append(leafHashValue: Uint8Array): Subtree[] {
    const completed: Subtree[] = [{ level: 0, index: this.n, hash: leafHashValue }];
    let hash = leafHashValue;
    let n = this.n;
    let level = 0;
    while (n % 2 === 1) {
      hash = nodeHashOf(this.frontier.pop() as Uint8Array, hash);
      level++;
      n = Math.floor(n / 2);
      completed.push({ level, index: n, hash });
    }
    this.frontier.push(hash);
    this.n++;
    return completed;
  }

  root(): Uint8Array {
    if (this.frontier.length === 0) return EMPTY_ROOT;
    let root = this.frontier[this.frontier.length - 1] as Uint8Array;
    for (let i = this.frontier.length - 2; i >= 0; i--)
      root = nodeHashOf(this.frontier[i] as Uint8Array, root);
    return root;
  }
}

/** Proofs against stored subtrees, every range hash computed at most once per source. */
export class ProofSource {
  private readonly ranges = new Map<string, Uint8Array>();

  constructor(private readonly hashAt: SubtreeSource) {}

  /** MTH(D[start:start+width]) for a range inside a tree whose complete subtrees are stored. */
  rangeHash(start: number, width: number): Uint8Array {
    if (width === 0) return EMPTY_ROOT;
    // A complete, aligned subtree is one stored hash.
    if ((width & (width - 1)) === 0 && start % width === 0 && width <= 2 ** 30)
      return this.hashAt(Math.log2(width), start / width);
    const key = `${start}+${width}`;
    let h = this.ranges.get(key);
    if (!h) {
      const k = splitPoint(width);
      h = nodeHashOf(this.rangeHash(start, k), this.rangeHash(start + k, width - k));
      this.ranges.set(key, h);
    }
    return h;
  }

  /** PATH(index, D[size]) of RFC 9162 §2.1.3.1, bottom first (protocol's inclusionProof). */
  inclusionProof(index: number, size: number): Uint8Array[] {
    if (!Number.isSafeInteger(size) || size < 1) throw new RangeError(`tree size ${size} has no leaves`);
    if (!Number.isSafeInteger(index) || index < 0 || index >= size)
      throw new RangeError(`leaf index ${index} is outside 0..${size - 1}`);
    const stack: Uint8Array[] = [];
    let start = 0;
    let width = size;
    let m = index;
    while (width > 1) {
      const k = splitPoint(width);
      if (m < k) {
        stack.push(this.rangeHash(start + k, width - k));
        width = k;
      } else {
        stack.push(this.rangeHash(start, k));
        start += k;
        width -= k;
        m -= k;
      }
    }
    return stack.reverse();
  }

  /** PROOF(first, D[second]) of RFC 9162 §2.1.4.1 (protocol's consistencyProof). */
  consistencyProof(first: number, second: number): Uint8Array[] {
    if (!Number.isSafeInteger(second) || second < 0) throw new RangeError(`second size ${second} is invalid`);
    if (!Number.isSafeInteger(first) || first < 0 || first > second)
      throw new RangeError(`first size ${first} is outside 0..${second}`);
    if (first === 0 || first === second) return [];
    const stack: Uint8Array[] = [];
    let start = 0;
    let width = second;
    let m = first;
    let wholeFirst = true;
    while (m !== width) {
      const k = splitPoint(width);
      if (m <= k) {
        stack.push(this.rangeHash(start + k, width - k));
        width = k;
      } else {
        stack.push(this.rangeHash(start, k));
        start += k;
        width -= k;
        m -= k;
        wholeFirst = false;
      }
    }
    if (!wholeFirst) stack.push(this.rangeHash(start, m));
    return stack.reverse();
  }
}
