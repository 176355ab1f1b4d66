import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex, hex, utf8 } from './bytes.js';
import { sha256 } from './hash.js';
import {
  consistencyProof,
  EMPTY_ROOT,
  inclusionProof,
  leafHash,
  MerkleAccumulator,
  memorySubtreeSource,
  nodeHash,
  rangeHash,
  rootFromStore,
  rootOf,
  verifyConsistency,
  verifyInclusion,
} from './merkle.js';

// The eight leaves of Certificate Transparency's reference tests (RFC 6962 implementation,
// merkle_tree_test), also used by transparency-dev, with their published roots and proofs.
const ctLeaves = [
  '',
  '00',
  '10',
  '2021',
  '3031',
  '40414243',
  '5051525354555657',
  '606162636465666768696a6b6c6d6e6f',
];
const ctRoots = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
const ctInclusion: Array<{ index: number; size: number; path: string[] }> = [
  { index: 0, size: 1, path: [] },
  {
    index: 0,
    size: 8,
    path: [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  },
  {
    index: 5,
    size: 8,
    path: [
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
  {
    index: 2,
    size: 3,
    path: ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125'],
  },
  {
    index: 1,
    size: 5,
    path: [
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
  },
];
const ctConsistency: Array<{ first: number; second: number; proof: string[] }> = [
  { first: 1, second: 1, proof: [] },
  {
    first: 1,
    second: 8,
    proof: [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  },
  {
    first: 6,
    second: 8,
    proof: [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
  {
    first: 2,
    second: 5,
    proof: [
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
  },
];

const ctLeafHashes = ctLeaves.map((l) => leafHash(fromHex(l)));
const ctSource = memorySubtreeSource(ctLeafHashes);

/** The RFC 6962 definition of MTH, written out recursively, as the reference to compare with. */
function referenceRoot(hashes: Uint8Array[]): Uint8Array {
  if (hashes.length === 0) return sha256(new Uint8Array(0));
  if (hashes.length === 1) return hashes[0] as Uint8Array;
  let k = 1;
  while (k * 2 < hashes.length) k *= 2;
  return nodeHash(referenceRoot(hashes.slice(0, k)), referenceRoot(hashes.slice(k)));
}

function leavesOf(n: number): Uint8Array[] {
  return Array.from({ length: n }, (_, i) => leafHash(utf8(`entry ${i}`)));
}

/** Every way of damaging a proof: change a byte, drop, add, or reorder a hash. */
function* damaged(proof: Uint8Array[]): Generator<Uint8Array[]> {
  for (let i = 0; i < proof.length; i++) {
    const bent = proof.map((h) => h.slice());
    (bent[i] as Uint8Array)[0] = ((bent[i] as Uint8Array)[0] as number) ^ 1;
    yield bent;
    yield proof.filter((_, j) => j !== i);
  }
  yield [...proof, sha256('extra')];
  if (proof.length > 1) yield [...proof].reverse();
}

describe('Merkle tree (RFC 6962 / RFC 9162)', () => {
  it('hashes leaves and nodes with domain separation', () => {
    expect(hex(leafHash(new Uint8Array(0)))).toBe(ctRoots[0]);
    expect(hex(EMPTY_ROOT)).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(hex(rootOf([]))).toBe(hex(EMPTY_ROOT));
    // A leaf that looks like two hashes cannot pass for the node over them.
    const a = leafHash(utf8('a'));
    const b = leafHash(utf8('b'));
    expect(hex(leafHash(new Uint8Array([...a, ...b])))).not.toBe(hex(nodeHash(a, b)));
  });

  it('gives the Certificate Transparency reference roots for 1..8 leaves', () => {
    for (let n = 1; n <= 8; n++) {
      expect(hex(rootOf(ctLeafHashes.slice(0, n))), `size ${n}`).toBe(ctRoots[n - 1]);
    }
  });

  it('gives the reference inclusion and consistency proofs', () => {
    for (const v of ctInclusion) {
      expect(inclusionProof(v.index, v.size, ctSource).map(hex)).toEqual(v.path);
      const root = fromHex(ctRoots[v.size - 1] as string);
      expect(
        verifyInclusion(ctLeafHashes[v.index] as Uint8Array, v.index, v.size, v.path.map(fromHex), root),
      ).toBe(true);
    }
    for (const v of ctConsistency) {
      expect(consistencyProof(v.first, v.second, ctSource).map(hex)).toEqual(v.proof);
      const r1 = fromHex(ctRoots[v.first - 1] as string);
      const r2 = fromHex(ctRoots[v.second - 1] as string);
      expect(verifyConsistency(v.first, v.second, r1, r2, v.proof.map(fromHex))).toBe(true);
    }
  });

  it('proves and verifies every inclusion for all sizes 1..64, and refuses every damaged proof', () => {
    const all = leavesOf(64);
    const source = memorySubtreeSource(all);
    for (let size = 1; size <= 64; size++) {
      const root = rootFromStore(size, source);
      expect(hex(root)).toBe(hex(referenceRoot(all.slice(0, size))));
      for (let index = 0; index < size; index++) {
        const leaf = all[index] as Uint8Array;
        const proof = inclusionProof(index, size, source);
        expect(verifyInclusion(leaf, index, size, proof, root)).toBe(true);
        for (const bad of damaged(proof)) expect(verifyInclusion(leaf, index, size, bad, root)).toBe(false);
        expect(verifyInclusion(leafHash(utf8('other')), index, size, proof, root)).toBe(false);
        if (size > 1) expect(verifyInclusion(leaf, (index + 1) % size, size, proof, root)).toBe(false);
        // The checkpoint binds size and root together; against the next tree's root the proof fails.
        if (size < 64)
          expect(verifyInclusion(leaf, index, size + 1, proof, rootFromStore(size + 1, source))).toBe(false);
      }
    }
  });

  it('proves and verifies consistency for all pairs of sizes 1..64, and refuses damaged proofs', () => {
    const all = leavesOf(64);
    const source = memorySubtreeSource(all);
    const roots = Array.from({ length: 65 }, (_, n) => rootFromStore(n, source));
    for (let second = 1; second <= 64; second++) {
      for (let first = 1; first <= second; first++) {
        const proof = consistencyProof(first, second, source);
        const r1 = roots[first] as Uint8Array;
        const r2 = roots[second] as Uint8Array;
        expect(verifyConsistency(first, second, r1, r2, proof), `${first}→${second}`).toBe(true);
        if (first === second) continue;
        for (const bad of damaged(proof)) expect(verifyConsistency(first, second, r1, r2, bad)).toBe(false);
        // A forked history: the same first size with a different root.
        expect(verifyConsistency(first, second, sha256('fork'), r2, proof)).toBe(false);
        expect(verifyConsistency(first, second, r1, sha256('rewrite'), proof)).toBe(false);
      }
    }
  });

  it('keeps the right edge while appending and restores it from stored subtrees', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 300 }), (size) => {
        const all = leavesOf(size);
        const stored = new Map<string, Uint8Array>();
        const acc = new MerkleAccumulator();
        for (const h of all) for (const t of acc.append(h)) stored.set(`${t.level}/${t.index}`, t.hash);
        expect(acc.size).toBe(size);
        expect(hex(acc.root())).toBe(hex(referenceRoot(all)));
        const fromStore = (level: number, index: number) => {
          const h = stored.get(`${level}/${index}`);
          if (!h) throw new Error(`missing ${level}/${index}`);
          return h;
        };
        // Every complete aligned subtree was reported, so proofs need nothing else.
        expect(stored.size).toBe(2 * size - popcount(size));
        const restored = MerkleAccumulator.restore(size, fromStore);
        expect(hex(restored.root())).toBe(hex(acc.root()));
        const more = leafHash(utf8('next'));
        restored.append(more);
        expect(hex(restored.root())).toBe(hex(referenceRoot([...all, more])));
        if (size > 0) expect(hex(rangeHash(0, size, fromStore))).toBe(hex(acc.root()));
      }),
      { numRuns: 60 },
    );
  });

  it('refuses impossible requests clearly', () => {
    expect(() => inclusionProof(0, 0, ctSource)).toThrow(/empty tree/);
    expect(() => inclusionProof(8, 8, ctSource)).toThrow(/outside/);
    expect(() => consistencyProof(9, 8, ctSource)).toThrow(/outside/);
    expect(consistencyProof(0, 8, ctSource)).toEqual([]);
    expect(verifyConsistency(0, 8, EMPTY_ROOT, fromHex(ctRoots[7] as string), [])).toBe(true);
    expect(verifyInclusion(ctLeafHashes[0] as Uint8Array, -1, 8, [], EMPTY_ROOT)).toBe(false);
    expect(verifyConsistency(5, 4, EMPTY_ROOT, EMPTY_ROOT, [])).toBe(false);
    expect(() => memorySubtreeSource(ctLeafHashes)(3, 1)).toThrow(/no complete subtree/);
  });
});

function popcount(n: number): number {
  let c = 0;
  for (let x = n; x > 0; x = Math.floor(x / 2)) c += x % 2;
  return c;
}
