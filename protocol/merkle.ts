// The ledger's Merkle tree, exactly as RFC 6962 §2.1 / RFC 9162 §2.1 define it:
//   leaf hash  = SHA-256(0x00 || leaf bytes)
//   node hash  = SHA-256(0x01 || left || right)
//   MTH(D[n])  = node(MTH(D[0:k]), MTH(D[k:n])), k the largest power of two below n
// with audit (inclusion) paths and consistency proofs and their verifiers from RFC 9162 §2.1.3-4.
// Sizes and indexes are plain numbers (safe integers); no 32-bit shifts are used.
import { bytesEqual, concatBytes } from './bytes.js';
import { sha256 } from './hash.js';

const LEAF_PREFIX = Uint8Array.of(0);
const NODE_PREFIX = Uint8Array.of(1);

export function leafHash(leaf: Uint8Array): Uint8Array {
  return sha256(concatBytes(LEAF_PREFIX, leaf));
}

export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256(concatBytes(NODE_PREFIX, left, right));
}

/** The root of an empty tree: SHA-256 of the empty string. */
export const EMPTY_ROOT: Uint8Array = sha256(new Uint8Array(0));

/** The largest power of two strictly below n (n ≥ 2). */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

const isPowerOfTwo = (n: number): boolean => n > 0 && 2 ** Math.round(Math.log2(n)) === n;
const half = (n: number): number => Math.floor(n / 2);
const odd = (n: number): boolean => n % 2 === 1;

/** The root over a list of leaf hashes (in memory; the ledger uses stored subtrees instead). */
export function rootOf(leafHashes: readonly Uint8Array[]): Uint8Array {
  const acc = new MerkleAccumulator();
  for (const h of leafHashes) acc.append(h);
  return acc.root();
}

/** A complete, aligned subtree: 2^level leaves starting at leaf index·2^level. */
export interface Subtree {
  level: number;
  index: number;
  hash: Uint8Array;
}

/**
 * The stored hash of a complete, aligned subtree (level 0: a leaf hash). Proof builders call it
 * only for subtrees that lie wholly inside the tree they prove against.
 */
export type SubtreeSource = (level: number, index: number) => Uint8Array;

/**
 * Appends leaf hashes one at a time and keeps the tree's right edge (one subtree per set bit of
 * the size), so the root is always at hand. Each append reports the complete subtrees it finished,
 * which a store keeps so that any proof is O(log n) lookups.
 */
export class MerkleAccumulator {
  #frontier: Uint8Array[] = [];
  #size = 0;

  /** Rebuilds the right edge of a tree of `size` leaves from stored subtrees. */
  static restore(size: number, hashAt: SubtreeSource): MerkleAccumulator {
    const acc = new MerkleAccumulator();
    let start = 0;
    for (let level = Math.floor(Math.log2(Math.max(size, 1))) + 1; level >= 0; level--) {
      const width = 2 ** level;
      if (start + width <= size) {
        acc.#frontier.push(hashAt(level, start / width));
        start += width;
      }
    }
    acc.#size = size;
    return acc;
  }

  get size(): number {
    return this.#size;
  }

  append(leafHashValue: Uint8Array): Subtree[] {
    const completed: Subtree[] = [{ level: 0, index: this.#size, hash: leafHashValue }];
    let hash = leafHashValue;
    let n = this.#size;
    let level = 0;
    while (odd(n)) {
      const left = this.#frontier.pop() as Uint8Array;
      hash = nodeHash(left, hash);
      level++;
      n = half(n);
      completed.push({ level, index: n, hash });
    }
    this.#frontier.push(hash);
    this.#size++;
    return completed;
  }

  root(): Uint8Array {
    if (this.#frontier.length === 0) return EMPTY_ROOT;
    let root = this.#frontier[this.#frontier.length - 1] as Uint8Array;
    for (let i = this.#frontier.length - 2; i >= 0; i--)
      root = nodeHash(this.#frontier[i] as Uint8Array, root);
    return root;
  }
}

/** MTH(D[start:start+width]) for a range that lies inside a tree whose complete subtrees are stored. */
export function rangeHash(start: number, width: number, hashAt: SubtreeSource): Uint8Array {
  if (width === 0) return EMPTY_ROOT;
  if (isPowerOfTwo(width) && start % width === 0) return hashAt(Math.round(Math.log2(width)), start / width);
  const k = splitPoint(width);
  return nodeHash(rangeHash(start, k, hashAt), rangeHash(start + k, width - k, hashAt));
}

/** The root of a tree of `size` leaves from its stored subtrees. */
export function rootFromStore(size: number, hashAt: SubtreeSource): Uint8Array {
  return rangeHash(0, size, hashAt);
}

function assertIndex(name: string, value: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < 0 || value > max) {
    throw new RangeError(`${name} ${value} is outside 0..${max}`);
  }
}

/** PATH(index, D[size]) of RFC 9162 §2.1.3.1: the audit path of one leaf, bottom first. */
export function inclusionProof(index: number, size: number, hashAt: SubtreeSource): Uint8Array[] {
  assertIndex('tree size', size, Number.MAX_SAFE_INTEGER);
  if (size === 0) throw new RangeError('an empty tree has no leaves');
  assertIndex('leaf index', index, size - 1);
  const path: Uint8Array[] = [];
  let start = 0;
  let width = size;
  let m = index;
  const stack: Uint8Array[] = [];
  while (width > 1) {
    const k = splitPoint(width);
    if (m < k) {
      stack.push(rangeHash(start + k, width - k, hashAt));
      width = k;
    } else {
      stack.push(rangeHash(start, k, hashAt));
      start += k;
      width -= k;
      m -= k;
    }
  }
  // The recursion appends on the way back up, so the sibling nearest the leaf comes first.
  while (stack.length > 0) path.push(stack.pop() as Uint8Array);
  return path;
}

/** PROOF(first, D[second]) of RFC 9162 §2.1.4.1: that the first `first` leaves are a prefix. */
export function consistencyProof(first: number, second: number, hashAt: SubtreeSource): Uint8Array[] {
  assertIndex('second size', second, Number.MAX_SAFE_INTEGER);
  assertIndex('first size', first, second);
  if (first === 0 || first === second) return [];
  const stack: Uint8Array[] = [];
  let start = 0;
  let width = second;
  let m = first;
  let wholeFirst = true;
  while (m !== width) {
    const k = splitPoint(width);
    if (m <= k) {
      stack.push(rangeHash(start + k, width - k, hashAt));
      width = k;
    } else {
      stack.push(rangeHash(start, k, hashAt));
      start += k;
      width -= k;
      m -= k;
      wholeFirst = false;
    }
  }
  if (!wholeFirst) stack.push(rangeHash(start, m, hashAt));
  const proof: Uint8Array[] = [];
  while (stack.length > 0) proof.push(stack.pop() as Uint8Array);
  return proof;
}

/** RFC 9162 §2.1.3.2: whether `proof` shows `leafHashValue` at `index` in the tree with `root`. */
export function verifyInclusion(
  leafHashValue: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return false;
  let fn = index;
  let sn = size - 1;
  let r = leafHashValue;
  for (const p of proof) {
    if (sn === 0) return false;
    if (odd(fn) || fn === sn) {
      r = nodeHash(p, r);
      if (!odd(fn)) {
        while (!odd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && bytesEqual(r, root);
}

/** RFC 9162 §2.1.4.2: whether `proof` shows the tree (first, firstRoot) is a prefix of (second, secondRoot). */
export function verifyConsistency(
  first: number,
  second: number,
  firstRoot: Uint8Array,
  secondRoot: Uint8Array,
  proof: readonly Uint8Array[],
): boolean {
  if (!Number.isSafeInteger(first) || !Number.isSafeInteger(second) || first < 0 || first > second)
    return false;
  if (first === second) return proof.length === 0 && bytesEqual(firstRoot, secondRoot);
  if (first === 0) return proof.length === 0;
  const path = isPowerOfTwo(first) ? [firstRoot, ...proof] : [...proof];
  if (path.length === 0) return false;
  let fn = first - 1;
  let sn = second - 1;
  while (odd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr = path[0] as Uint8Array;
  let sr = path[0] as Uint8Array;
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (odd(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (!odd(fn)) {
        while (!odd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && bytesEqual(fr, firstRoot) && bytesEqual(sr, secondRoot);
}

/** Leaf hashes held in memory as a SubtreeSource, for tests, verifiers and small trees. */
export function memorySubtreeSource(leafHashes: readonly Uint8Array[]): SubtreeSource {
  const levels: Uint8Array[][] = [leafHashes.slice()];
  return (level, index) => {
    while (levels.length <= level) {
      const below = levels[levels.length - 1] as Uint8Array[];
      const next: Uint8Array[] = [];
      for (let i = 0; i + 1 < below.length; i += 2)
        next.push(nodeHash(below[i] as Uint8Array, below[i + 1] as Uint8Array));
      levels.push(next);
    }
    const h = levels[level]?.[index];
    if (!h) throw new RangeError(`no complete subtree at level ${level}, index ${index}`);
    return h;
  };
}
