import { describe, expect, it } from 'vitest';
import { bearerCheck, HttpError, intParam } from './http.js';

describe('shared HTTP helpers', () => {
  it('accepts exactly the expected bearer token', () => {
    const matches = bearerCheck('operator-token-0123456789abcdef');
    expect(matches('Bearer operator-token-0123456789abcdef')).toBe(true);
    for (const h of [
      undefined,
      '',
      'operator-token-0123456789abcdef',
      'bearer operator-token-0123456789abcdef',
      'Bearer operator-token-0123456789abcde',
      'Bearer operator-token-0123456789abcdef ',
      'Bearer x',
    ])
      expect(matches(h), String(h)).toBe(false);
  });

  it('reads integer parameters, naming the parameter when one is wrong', () => {
    expect(intParam('0', 'index')).toBe(0);
    expect(intParam('42', 'index')).toBe(42);
    expect(intParam(undefined, 'size', 7)).toBe(7);
    for (const bad of ['-1', '01', '1.5', '1e3', 'x', '99999999999999999'])
      expect(() => intParam(bad, 'index'), bad).toThrow(/^index: must be a non-negative integer$/);
    expect(() => intParam(undefined, 'index')).toThrow(/^index: required/);
    try {
      intParam('x', 'index');
    } catch (err) {
      expect(err).toBeInstanceOf(HttpError);
      expect(err).toMatchObject({ statusCode: 400, code: 'bad-request' });
    }
  });
});
