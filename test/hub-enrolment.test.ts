// Enrolment over the hub's HTTP API: one-time, short-lived tokens; reused, expired and forged
// tokens refused with a clear reason; failures limited per source; the binding is a hub-signed
// ledger entry; operator endpoints need the operator token.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../hub/hub.js';
import { b64url, verifyJws } from '../protocol/index.js';
import { parseGatewayBinding } from '../protocol/messages/index.js';
import {
  createToken,
  OPERATOR_TOKEN,
  postEnroll,
  startTestHub,
  TestGateway,
  waitFor,
} from './support/hub-fixtures.js';

let hub: Hub;
beforeAll(async () => {
  ({ hub } = await startTestHub({ maxEnrolFailures: 5 }));
});
afterAll(async () => {
  await hub.stop();
});

const keyOf = (g: TestGateway) => b64url.encode(g.publicKey);

describe('enrolment', () => {
  it('binds the key with a hub-signed ledger entry and returns working MQTT credentials', async () => {
    const g = new TestGateway();
    const token = await createToken(hub.httpUrl, 'roof-7');
    const res = await postEnroll(hub.httpUrl, { token, publicKey: keyOf(g), gatewayId: g.id });
    expect(res.status).toBe(201);
    const body = res.body as {
      gatewayId: string;
      site: string;
      mqtt: { username: string; password: string; url: string };
      hub: { id: string; publicKey: string };
      binding: { index: number };
    };
    expect(body.gatewayId).toBe(g.id);
    expect(body.mqtt.username).toBe(g.id);
    expect(body.mqtt.password).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const entry = hub.ledger.entry(body.binding.index)!;
    const v = verifyJws(entry.jws, {
      typ: 'wattproof.gateway-binding.v1',
      kid: body.hub.id,
      publicKeyFor: () => b64url.decode(body.hub.publicKey),
    });
    expect(v.ok).toBe(true);
    const binding = parseGatewayBinding(v.ok ? v.payload : undefined);
    expect(binding.ok && binding.value).toMatchObject({ gw: g.id, publicKey: keyOf(g), site: 'roof-7' });
    // Only the hash of the password is stored.
    const row = hub.db.prepare('SELECT password_hash FROM mqtt_credentials WHERE username = ?').get(g.id) as {
      password_hash: string;
    };
    expect(row.password_hash).toMatch(/^\$7\$101\$/);
    expect(row.password_hash).not.toContain(body.mqtt.password);
    g.credentials = res.body as never;
    await g.connect();
    await g.close();
  });

  it('refuses a reused, an expired and a forged token, each with its reason', async () => {
    const a = new TestGateway();
    const b = new TestGateway();
    const token = await createToken(hub.httpUrl);
    expect((await postEnroll(hub.httpUrl, { token, publicKey: keyOf(a) })).status).toBe(201);
    const reused = await postEnroll(hub.httpUrl, { token, publicKey: keyOf(b) });
    expect(reused).toEqual({
      status: 410,
      body: { error: 'token-used', detail: expect.stringMatching(/already used/) },
    });

    const short = hub.tokens.create({ site: 'site-1', ttlMs: 1 });
    await waitFor('the token to expire', () => (Date.now() > short.expiresAt ? true : undefined));
    const expired = await postEnroll(hub.httpUrl, { token: short.token, publicKey: keyOf(b) });
    expect(expired).toEqual({
      status: 410,
      body: { error: 'token-expired', detail: expect.stringMatching(/expired/) },
    });

    const forged = `wpt_${b64url.encode(new Uint8Array(32).fill(7))}`;
    const unknown = await postEnroll(hub.httpUrl, { token: forged, publicKey: keyOf(b) });
    expect(unknown).toEqual({ status: 401, body: { error: 'token-unknown', detail: expect.any(String) } });
    expect(hub.ledger.entryByGatewaySeq(b.id, 0)).toBeUndefined();
  });

  it('names the bad field of a malformed request', async () => {
    const g = new TestGateway();
    const token = await createToken(hub.httpUrl);
    const cases: Array<[unknown, RegExp]> = [
      [{ publicKey: keyOf(g) }, /^token:/],
      [{ token, publicKey: 'abc' }, /^publicKey:/],
      [{ token, publicKey: keyOf(g), gatewayId: 'gw-aaaaaaaaaaaaaaaa' }, /^gatewayId:/],
      [[1, 2], /JSON object/],
    ];
    for (const [body, detail] of cases) {
      const res = await postEnroll(hub.httpUrl, body);
      expect(res.status).toBe(400);
      expect((res.body as { detail: string }).detail).toMatch(detail);
    }
    // The token was not used up by the bad requests.
    expect((await postEnroll(hub.httpUrl, { token, publicKey: keyOf(g) })).status).toBe(201);
  });

  it('re-enrolling the same key with a new token rotates the password and keeps the one binding', async () => {
    const g = new TestGateway();
    const first = (await g.enrol(hub.httpUrl)).binding.index;
    const oldPassword = g.credentials!.mqtt.password;
    const size = hub.ledger.size;
    const again = await g.enrol(hub.httpUrl);
    expect(again.binding.index).toBe(first);
    expect(hub.ledger.size).toBe(size);
    expect(again.mqtt.password).not.toBe(oldPassword);
    await expect(g.connect(undefined, { username: g.id, password: oldPassword })).rejects.toThrow();
    await g.connect();
    await g.close();
  });

  it('limits failed attempts per source address', async () => {
    const g = new TestGateway();
    const forged = (n: number) => `wpt_${b64url.encode(new Uint8Array(32).fill(n))}`;
    // Earlier tests already failed from this address; count up to the limit of 5.
    let res = await postEnroll(hub.httpUrl, { token: forged(1), publicKey: keyOf(g) });
    for (let i = 2; res.status !== 429 && i < 10; i++)
      res = await postEnroll(hub.httpUrl, { token: forged(i), publicKey: keyOf(g) });
    expect(res.status).toBe(429);
    expect((res.body as { error: string }).error).toBe('too-many-attempts');
    // Even a valid token waits until the window passes.
    const token = await createToken(hub.httpUrl);
    const blocked = await fetch(`${hub.httpUrl}/v1/enroll`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token, publicKey: keyOf(g) }),
    });
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('operator endpoints need the operator token; read endpoints are public and validate their parameters', async () => {
    const noAuth = await fetch(`${hub.httpUrl}/v1/enroll-tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"site":"x"}',
    });
    expect(noAuth.status).toBe(401);
    const wrong = await fetch(`${hub.httpUrl}/v1/enroll-tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${OPERATOR_TOKEN}x` },
      body: '{"site":"x"}',
    });
    expect(wrong.status).toBe(401);
    const badSite = await fetch(`${hub.httpUrl}/v1/enroll-tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${OPERATOR_TOKEN}` },
      body: '{"site":"has spaces"}',
    });
    expect(badSite.status).toBe(400);
    expect(((await badSite.json()) as { detail: string }).detail).toMatch(/site/);
    for (const q of [
      '/v1/entries/-1',
      '/v1/entries?start=x',
      '/v1/proof/inclusion?index=99999&size=1',
      '/v1/proof/consistency?first=5&second=2',
    ]) {
      const res = await fetch(`${hub.httpUrl}${q}`);
      expect(res.status, q).toBe(400);
      expect(((await res.json()) as { error: string }).error).toBe('bad-request');
    }
    expect((await fetch(`${hub.httpUrl}/v1/entries/999999`)).status).toBe(404);
    expect((await fetch(`${hub.httpUrl}/v1/stats`)).status).toBe(200);
  });
});
