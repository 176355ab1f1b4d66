// Enrolment tokens under attack: a used token cannot be used again, an expired one is refused,
// and guessing is cut off — after N failures from one address every attempt from it is refused
// with 429 and Retry-After, even one carrying a valid token, while no binding is made.
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { b64url, generateSecretKey, publicKeyOf } from '../../protocol/index.js';
import { createToken, postEnroll, startTestHub, waitFor } from '../support/hub-fixtures.js';

const stops: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const s of stops.reverse()) await s();
});

const freshKey = () => b64url.encode(publicKeyOf(generateSecretKey()));

describe('enrolment tokens', () => {
  it('a token works once: reuse with another key is 410 token-used, and binds nothing', async () => {
    const { hub } = await startTestHub();
    stops.push(() => hub.stop());
    const token = await createToken(hub.httpUrl);
    expect((await postEnroll(hub.httpUrl, { token, publicKey: freshKey() })).status).toBe(201);
    const size = hub.ledger.size;
    const again = await postEnroll(hub.httpUrl, { token, publicKey: freshKey() });
    expect(again.status).toBe(410);
    expect(again.body).toMatchObject({ error: 'token-used' });
    expect(hub.ledger.size).toBe(size);
  });

  it('an expired token is 410 token-expired', async () => {
    const { hub } = await startTestHub();
    stops.push(() => hub.stop());
    const token = await createToken(hub.httpUrl, 'site-1', 1);
    const issued = Date.now();
    await waitFor('the token to expire', () => (Date.now() - issued > 1_200 ? true : undefined), 5_000);
    const res = await postEnroll(hub.httpUrl, { token, publicKey: freshKey() });
    expect(res.status).toBe(410);
    expect(res.body).toMatchObject({ error: 'token-expired' });
  });

  it('guessing: after maxEnrolFailures failures from one address, 429 with Retry-After, even for a valid token', async () => {
    const max = 5;
    const { hub } = await startTestHub({ maxEnrolFailures: max, enrolFailureWindowMs: 60_000 });
    stops.push(() => hub.stop());
    const valid = await createToken(hub.httpUrl);
    const size = hub.ledger.size;
    const statuses: number[] = [];
    for (let i = 0; i < max + 5; i++) {
      const guess = `wpt_${randomBytes(32).toString('base64url')}`;
      statuses.push((await postEnroll(hub.httpUrl, { token: guess, publicKey: freshKey() })).status);
    }
    expect(statuses.slice(0, max)).toEqual(Array(max).fill(401));
    expect(statuses.slice(max)).toEqual(Array(5).fill(429));
    const res = await fetch(`${hub.httpUrl}/v1/enroll`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: valid, publicKey: freshKey() }),
    });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(hub.ledger.size).toBe(size);
  });
});
