// Access to the dashboard and the hub API: every write route in Fastify's route tables is tried
// without a session, with a role it does not allow, and without (or with a wrong) CSRF token —
// each must be refused — and with everything right, to show the refusals were the guard's doing.
// The hub runs its engine, so the engine's write routes are walked too: the operator's answer 401
// to a wrong token, the signed-entry ones refuse a body no participant signed.
// Reads need a login; cookies are HttpOnly and SameSite=Strict; /metrics speaks Prometheus.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANY_ROLE, CSRF_HEADER, SESSION_COOKIE } from '../hub/web/plugin.js';
import { type DashboardHub, PASSWORDS, startDashboardHub } from './support/dashboard-hub.js';
import { OPERATOR_TOKEN } from './support/hub-fixtures.js';

const WRITE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** Hub API writes guarded by the operator's bearer token. */
const OPERATOR_ROUTES = [
  'POST /v1/enroll-tokens',
  'POST /v1/credits',
  'POST /v1/disputes/:hash/ruling',
  'POST /v1/complaints/:hash/decision',
];
type User = keyof typeof PASSWORDS;
const ROLE_OF: Record<User, string> = { olga: 'operator', vera: 'validator', rita: 'read-only' };

let h: DashboardHub;
const sessions = {} as Record<User, { cookie: string; csrf: string }>;

async function login(user: User): Promise<{ cookie: string; csrf: string; setCookie: string }> {
  const res = await fetch(`${h.url}/ui/api/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user, password: PASSWORDS[user] }),
  });
  expect(res.status).toBe(200);
  const setCookie = res.headers.get('set-cookie') ?? '';
  const cookie = (setCookie.split(';')[0] as string).trim();
  const body = (await res.json()) as { csrf: string };
  return { cookie, csrf: body.csrf, setCookie };
}

const concrete = (url: string) =>
  url.replace(':id', 'gw-aaaaaaaaaaaaaaaa').replace(':index', '0').replace(':file', 'app.js');

async function call(method: string, url: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${h.url}${concrete(url)}`, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: WRITE.has(method) ? '{}' : undefined,
  });
  return { status: res.status, body: (await res.text()).slice(0, 300) };
}

/** Fastify's printRoutes tree, flattened to method + full path. */
function parseRouteTree(text: string): { method: string; url: string }[] {
  const out: { method: string; url: string }[] = [];
  const stack: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^((?:[│ ] {3})*)[├└]── (\S+)(?: \(([^)]+)\))?$/.exec(line);
    if (!m) continue;
    const depth = (m[1] as string).length / 4;
    const url = (depth > 0 ? (stack[depth - 1] ?? '') : '') + (m[2] as string);
    stack[depth] = url;
    for (const method of (m[3] ?? '').split(', ').filter(Boolean)) out.push({ method, url });
  }
  return out;
}

describe('dashboard access', () => {
  beforeAll(async () => {
    // With the hub's engine, so its write routes are in the hub's route table too.
    h = await startDashboardHub({ hubEngine: true });
    for (const u of Object.keys(PASSWORDS) as User[]) sessions[u] = await login(u);
  }, 60_000);

  afterAll(async () => {
    await h?.stop();
  });

  it('every dashboard route declares who may call it', () => {
    const ui = h.routes.filter((r) => r.url.startsWith('/ui'));
    expect(ui.length).toBeGreaterThan(15);
    for (const r of ui) expect(r.access, `${r.method} ${r.url}`).toBeDefined();
  });

  it('refuses every write route without a session, with the wrong role, and without the CSRF token', async () => {
    const writes = h.routes.filter((r) => WRITE.has(r.method) && r.url !== '/ui/api/login');
    expect(writes.map((r) => `${r.method} ${r.url}`).sort()).toEqual([
      'POST /ui/api/alerts/:id/ack',
      'POST /ui/api/logout',
      'POST /ui/api/validator/decisions',
    ]);
    for (const r of writes) {
      const what = `${r.method} ${r.url}`;
      expect((await call(r.method, r.url)).status, `${what} without a session`).toBe(401);
      const forged = `${SESSION_COOKIE}=${'A'.repeat(43)}`;
      expect((await call(r.method, r.url, { cookie: forged })).status, `${what} forged session`).toBe(401);
      const allowed = r.access as readonly string[];
      const users = Object.keys(PASSWORDS) as User[];
      for (const u of users.filter((x) => !allowed.includes(ROLE_OF[x]))) {
        const s = sessions[u];
        const res = await call(r.method, r.url, { cookie: s.cookie, [CSRF_HEADER]: s.csrf });
        expect(res.status, `${what} as ${ROLE_OF[u]}`).toBe(403);
        expect(res.body).toContain('forbidden');
      }
      const right = users.find((x) => allowed.includes(ROLE_OF[x])) as User;
      const s = sessions[right];
      const noCsrf = await call(r.method, r.url, { cookie: s.cookie });
      expect(noCsrf.status, `${what} without CSRF`).toBe(403);
      expect(noCsrf.body).toContain('csrf');
      const wrongCsrf = await call(r.method, r.url, { cookie: s.cookie, [CSRF_HEADER]: 'x'.repeat(32) });
      expect(wrongCsrf.status, `${what} wrong CSRF`).toBe(403);
      if (r.url !== '/ui/api/logout') {
        // With everything right the guard lets it through (the handler then judges the body).
        const ok = await call(r.method, r.url, { cookie: s.cookie, [CSRF_HEADER]: s.csrf });
        expect([400, 404, 409, 503], `${what} authorised: ${ok.body}`).toContain(ok.status);
      }
    }
    // The operator's logout works with its CSRF token (last: it ends that session).
    const out = await call('POST', '/ui/api/logout', {
      cookie: sessions.olga.cookie,
      [CSRF_HEADER]: sessions.olga.csrf,
    });
    expect(out.status).toBe(200);
    expect((await call('GET', '/ui/api/fleet', { cookie: sessions.olga.cookie })).status).toBe(401);
    sessions.olga = await login('olga');
  });

  it('refuses the hub API write routes without their credentials', async () => {
    const tree = h.hub.api.printRoutes({ commonPrefix: false });
    const writes = parseRouteTree(tree).filter((r) => WRITE.has(r.method));
    expect(writes.map((r) => `${r.method} ${r.url}`)).toEqual(
      expect.arrayContaining([
        'POST /v1/enroll-tokens',
        'POST /v1/enroll',
        'POST /v1/credits',
        'POST /v1/participants',
        'POST /v1/contracts',
        'POST /v1/orders',
        'POST /v1/disputes/:hash/ruling',
        ...OPERATOR_ROUTES,
      ]),
    );
    for (const r of writes) {
      const res = await fetch(`${h.hub.httpUrl}${r.url}`, {
        method: r.method,
        headers: { 'content-type': 'application/json', authorization: 'Bearer wrong-token' },
        body: JSON.stringify({ site: 's', token: 'wpt_forged', publicKey: 'x' }),
      });
      expect([400, 401, 403], `${r.method} ${r.url}`).toContain(res.status);
      // The operator's routes refuse on the token itself, before looking at the body; the others
      // take only entries signed by a participant or gateway, which this body is not.
      if (OPERATOR_ROUTES.includes(`${r.method} ${r.url}`))
        expect(res.status, `${r.method} ${r.url} with a wrong token`).toBe(401);
    }
    const ok = await fetch(`${h.hub.httpUrl}/v1/enroll-tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${OPERATOR_TOKEN}` },
      body: JSON.stringify({ site: 's' }),
    });
    expect(ok.status).toBe(201);
  });

  it('needs a login for every dashboard read', async () => {
    const reads = h.routes.filter((r) => r.method === 'GET' && r.url.startsWith('/ui/api/'));
    expect(reads.length).toBeGreaterThan(10);
    for (const r of reads) expect((await call('GET', r.url)).status, r.url).toBe(401);
    for (const r of reads.filter((x) => x.access === ANY_ROLE || Array.isArray(x.access)))
      expect((r.access as readonly string[]).includes('read-only'), r.url).toBe(true);
  });

  it('sets an HttpOnly SameSite=Strict session cookie and refuses a wrong password', async () => {
    const s = await login('rita');
    expect(s.setCookie).toMatch(/HttpOnly/i);
    expect(s.setCookie).toMatch(/SameSite=Strict/i);
    expect(s.setCookie).toMatch(/Path=\//);
    expect(s.setCookie).not.toMatch(/Secure/); // plain HTTP here; on with TLS or secureCookies: true
    const bad = await fetch(`${h.url}/ui/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user: 'rita', password: 'not-her-password' }),
    });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('set-cookie')).toBeNull();
    const page = await fetch(`${h.url}/ui/`);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await page.text();
    for (const p of Object.values(PASSWORDS)) expect(html).not.toContain(p);
  });

  it('serves Prometheus metrics', async () => {
    const res = await fetch(`${h.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    for (const name of [
      'wattproof_messages_total',
      'wattproof_ingest_rejects_total',
      'wattproof_ingest_latency_seconds_bucket',
      'wattproof_ledger_entries',
      'wattproof_gateways_connected',
      'wattproof_alerts_active',
    ])
      expect(text).toContain(name);
    expect(text).toMatch(/wattproof_ledger_entries \d+/);
  });
});
