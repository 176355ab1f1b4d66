import { describe, expect, it } from 'vitest';
import {
  consistencyProof,
  EMPTY_ROOT,
  inclusionProof,
  leafHash,
  MerkleAccumulator,
  memorySubtreeSource,
  nodeHash,
  rootOf,
  utf8,
} from '../../protocol/index.js';
import { nodeHashOf, ProofSource, TreeAccumulator } from './tree.js';

const leaves = Array.from({ length: 70 }, (_, i) => leafHash(utf8(`leaf ${i}`)));

describe('the node:crypto tree matches protocol/merkle.ts byte for byte', () => {
  it('hashes a node the same way', () => {
    const [a, b] = leaves as [Uint8Array, Uint8Array];
    expect(nodeHashOf(a, b)).toEqual(nodeHash(a, b));
  });

  it('completes the same subtrees and has the same root at every size', () => {
    const mine = new TreeAccumulator();
    const theirs = new MerkleAccumulator();
    expect(mine.root()).toEqual(EMPTY_ROOT);
    for (const [i, h] of leaves.entries()) {
      expect(mine.append(h)).toEqual(theirs.append(h));
      expect(mine.size).toBe(i + 1);
      expect(mine.root()).toEqual(theirs.root());
    }
  });

  it('restores the right edge from stored subtrees', () => {
    const source = memorySubtreeSource(leaves);
    for (const size of [0, 1, 2, 3, 7, 8, 33, 64, 70]) {
      const acc = TreeAccumulator.restore(size, source);
      expect(acc.size).toBe(size);
      expect(acc.root()).toEqual(rootOf(leaves.slice(0, size)));
      acc.append(leafHash(utf8('next')));
      expect(acc.root()).toEqual(rootOf([...leaves.slice(0, size), leafHash(utf8('next'))]));
    }
  });

  it('gives the same inclusion proofs, consistency proofs and range hashes at every size up to 33 and around 64', () => {
    const source = memorySubtreeSource(leaves);
    const sizes = [...Array.from({ length: 33 }, (_, i) => i + 1), 63, 64, 65, 70];
    for (const size of sizes) {
      const proofs = new ProofSource(source);
      expect(proofs.rangeHash(0, size)).toEqual(rootOf(leaves.slice(0, size)));
      for (let index = 0; index < size; index++)
        expect(proofs.inclusionProof(index, size)).toEqual(inclusionProof(index, size, source));
      for (let first = 0; first <= size; first++)
        expect(proofs.consistencyProof(first, size)).toEqual(consistencyProof(first, size, source));
    }
    expect(new ProofSource(source).rangeHash(5, 0)).toEqual(EMPTY_ROOT);
  });

  it('refuses proofs outside the tree', () => {
    const proofs = new ProofSource(memorySubtreeSource(leaves));
    expect(() => proofs.inclusionProof(0, 0)).toThrow(/no leaves/);
    expect(() => proofs.inclusionProof(5, 5)).toThrow(/outside 0..4/);
    expect(() => proofs.inclusionProof(-1, 5)).toThrow(/outside/);
    expect(() => proofs.consistencyProof(6, 5)).toThrow(/outside 0..5/);
    expect(() => proofs.consistencyProof(1, -1)).toThrow(/invalid/);
  });
});
