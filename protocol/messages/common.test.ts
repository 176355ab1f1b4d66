import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { formatPath, hash32, idOf, parseWith, text, utcMs } from './common.js';

const issues = (schema: z.ZodType, v: unknown) => {
  const r = parseWith(schema, v);
  return r.ok ? [] : r.issues;
};

describe('parse issues read as rules', () => {
  it('names sizes of arrays, strings and numbers', () => {
    expect(issues(z.array(z.int()).max(1), [1, 2])).toEqual([{ path: '', message: 'must have ≤ 1 items' }]);
    expect(issues(z.array(z.int()).min(2), [1])).toEqual([{ path: '', message: 'must have ≥ 2 items' }]);
    expect(issues(z.string().max(2), 'abc')).toEqual([{ path: '', message: 'must have ≤ 2 characters' }]);
    expect(issues(z.int().max(5), 6)).toEqual([{ path: '', message: 'must be ≤ 5' }]);
    expect(issues(z.int(), -(2 ** 53))).toEqual([
      { path: '', message: 'must be a safe integer (|n| ≤ 2^53 − 1)' },
    ]);
    expect(issues(text(3), '')).toEqual([{ path: '', message: 'must not be empty' }]);
  });
  it('names the expected type', () => {
    expect(issues(z.strictObject({ a: z.array(z.int()) }), { a: 1 })).toEqual([
      { path: 'a', message: 'must be an array' },
    ]);
    expect(issues(z.strictObject({ a: z.string() }), { a: 1 })).toEqual([
      { path: 'a', message: 'must be a string' },
    ]);
    expect(issues(z.strictObject({ a: z.int() }), { a: 'x' })).toEqual([
      { path: 'a', message: 'must be a number' },
    ]);
    expect(issues(z.strictObject({}), { a: 1, b: 2 })).toEqual([
      { path: '', message: 'unknown fields "a", "b": not part of this message type; remove them' },
    ]);
  });
  it('checks ids, hashes and times', () => {
    expect(issues(idOf('val'), 'val-aaaaaaaaaaaaaaaa')).toEqual([]);
    expect(issues(idOf('val'), 'pt-aaaaaaaaaaaaaaaa')[0]?.message).toMatch(/val id/);
    expect(issues(hash32, 'A'.repeat(43))).toEqual([]);
    expect(issues(hash32, 'A'.repeat(44))).toHaveLength(1);
    expect(issues(utcMs, -1)[0]?.message).toMatch(/≥ 0/);
  });
  it('formats paths with dots and indexes', () => {
    expect(formatPath(['a', 0, 'b', 2])).toBe('a[0].b[2]');
    expect(formatPath([])).toBe('');
  });
});
