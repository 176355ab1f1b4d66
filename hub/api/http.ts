// What every HTTP surface of the hub shares: errors that become a status and a JSON
// {error, detail}, integer parameters checked with the parameter's name, and a bearer-token check
// that takes the same time whatever the token (the API's operator endpoints, the engine's, and
// /metrics).
import { createHash, timingSafeEqual } from 'node:crypto';

export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    detail: string,
  ) {
    super(detail);
  }
}

/** A non-negative safe integer from a query or path parameter, or a 400 naming it. */
export function intParam(value: unknown, name: string, fallback?: number): number {
  if (value === undefined || value === '') {
    if (fallback !== undefined) return fallback;
    throw new HttpError(400, 'bad-request', `${name}: required, a non-negative integer`);
  }
  if (
    typeof value !== 'string' ||
    !/^(0|[1-9][0-9]{0,15})$/.test(value) ||
    !Number.isSafeInteger(Number(value))
  ) {
    throw new HttpError(400, 'bad-request', `${name}: must be a non-negative integer`);
  }
  return Number(value);
}

const sha = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/**
 * A check of `Authorization: Bearer <token>` against one expected token. Hashes are compared, so
 * the comparison is constant-time whatever the lengths.
 */
export function bearerCheck(expected: string): (authorization: string | undefined) => boolean {
  const expectedHash = sha(expected);
  return (authorization) => {
    const m = /^Bearer (.+)$/.exec(authorization ?? '');
    return m !== null && timingSafeEqual(sha(m[1] as string), expectedHash);
  };
}
