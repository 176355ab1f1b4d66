// The hub's HTTP API under attack. Every route the running server has (a hub with its contracts
// engine; read from Fastify's own route table, so a new endpoint is attacked as soon as it exists)
// must be documented in docs/*.md with who may call it; operator routes are called without
// credentials and with the wrong kind of credential, every write with oversized and malformed
// bodies, and every route with injection strings (SQL, path traversal, header injection). None
// succeeds where it should not, nothing answers 5xx, and nothing changes state (ledger size,
// tokens, bindings).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../../hub/hub.js';
import { OPERATOR_TOKEN, startTestHub, TestGateway } from '../support/hub-fixtures.js';

let hub: Hub;
let gw: TestGateway;
let routes: Array<{ method: string; path: string }>;

const docsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../docs');

/** Path parameters compared by position, not name (`:id` and `:index` are both a parameter). */
const shape = (method: string, p: string) => `${method} ${p.replace(/:[a-zA-Z]+/g, ':param')}`;

/**
 * Every route the docs name: in a table whose first cell names it (`METHOD /path…`), with the
 * second cell saying who may call it (`—` public, `operator`, a token or a signature); or in
 * prose, where "(operator bearer token)" right after it marks an operator route.
 */
function documentedRoutes(): Map<string, string> {
  const out = new Map<string, string>();
  const route = /`(GET|POST|PUT|PATCH|DELETE) ([^`\s?[]+)[^`]*`/g;
  const key = (m: RegExpMatchArray) => shape(m[1] as string, (m[2] as string).replace(/\{(\w+)\}/g, ':$1'));
  for (const file of readdirSync(docsDir).filter((f) => f.endsWith('.md'))) {
    for (const line of readFileSync(path.join(docsDir, file), 'utf8').split('\n')) {
      if (line.startsWith('|')) {
        const cells = line.split(/(?<!\\)\|/).map((c) => c.trim());
        for (const m of (cells[1] ?? '').matchAll(route)) out.set(key(m), cells[2] ?? '');
        continue;
      }
      for (const m of line.matchAll(route)) {
        const after = line.slice((m.index ?? 0) + m[0].length);
        if (!out.has(key(m))) out.set(key(m), /^\s*\(operator\b/.test(after) ? 'operator' : 'see the text');
      }
    }
  }
  return out;
}
const DOCS = documentedRoutes();
const isOperatorOnly = (r: { method: string; path: string }) =>
  /^operator\b/.test(DOCS.get(shape(r.method, r.path)) ?? '');

const INJECTIONS = [
  "' OR '1'='1",
  '1; DROP TABLE entries; --',
  '1 UNION SELECT * FROM enroll_tokens',
  '../../../../etc/passwd',
  '..%2f..%2f..%2fetc%2fpasswd',
  '%2e%2e/%2e%2e/hub.key',
  'x%0d%0aSet-Cookie:%20pwned=1',
  'x%0aX-Injected:%201',
  '%00',
  '9'.repeat(400),
  '-1',
  '1e3',
  '0x10',
];

/** Fastify's route table, flattened to `METHOD /path` (HEAD twins left out). */
function routeTable(h: Hub): Array<{ method: string; path: string }> {
  const api = h.api as unknown as { printRoutes?: (o: { commonPrefix: boolean }) => string };
  if (typeof api.printRoutes !== 'function')
    throw new Error('Fastify has no printRoutes: cannot read the routes');
  const out: Array<{ method: string; path: string }> = [];
  // The tree prints a child's segment after its parent's (`/v1/checkpoint` then `s`), four
  // columns deeper per level.
  const stack: string[] = [];
  for (const line of api.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^(.*?)[└├]── (\S+) \(([A-Z, ]+)\)/.exec(line);
    if (!m) continue;
    const depth = Math.floor((m[1] as string).length / 4);
    stack.length = depth;
    const full = `${depth > 0 ? stack[depth - 1] : ''}${m[2]}`;
    stack[depth] = full;
    for (const method of (m[3] as string).split(', '))
      if (method !== 'HEAD') out.push({ method, path: full });
  }
  return out;
}

function fill(p: string, value: string): string {
  return p.replace(/:[a-zA-Z]+/g, value);
}

/** State that no refused request may change. */
function state(): string {
  const count = (table: string) =>
    (hub.db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
  const tables = (
    hub.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{
      name: string;
    }>
  ).map((t) => t.name);
  return JSON.stringify({ size: hub.ledger.size, tables: tables.map((t) => [t, count(t)]) });
}

async function call(
  method: string,
  url: string,
  init: { headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; text: string; headers: Headers }> {
  const res = await fetch(url, {
    method,
    headers: init.headers,
    body: method === 'GET' ? undefined : init.body,
  });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

beforeAll(async () => {
  // With the engine: its participant, contract, credit, order, dispute and complaint routes too.
  ({ hub } = await startTestHub({ engine: { currency: 'EUR', settlementGraceMs: 60_000 } }));
  gw = new TestGateway();
  await gw.enrol(hub.httpUrl);
  await hub.settle(); // the binding's checkpoint is written before the state is compared
  routes = routeTable(hub);
}, 60_000);
afterAll(async () => {
  await hub?.stop();
});

describe('HTTP API under attack', () => {
  it('every route the server has is documented with who may call it', () => {
    expect(routes.length).toBeGreaterThan(20);
    const undocumented = routes.filter((r) => !DOCS.has(shape(r.method, r.path)));
    expect(undocumented.map((r) => `${r.method} ${r.path}`)).toEqual([]);
    // The operator's routes are found (fleet, tokens, credits, rulings, ...).
    expect(routes.filter(isOperatorOnly).length).toBeGreaterThanOrEqual(3);
  });

  it('operator routes refuse no credentials and every wrong credential, with 401 and no state change', async () => {
    const wrong: Array<Record<string, string>> = [
      {},
      { authorization: '' },
      { authorization: 'Bearer' },
      { authorization: 'Bearer ' },
      { authorization: `bearer ${OPERATOR_TOKEN}x` },
      { authorization: `Bearer ${OPERATOR_TOKEN.slice(0, -1)}` },
      { authorization: `Basic ${Buffer.from(`operator:${OPERATOR_TOKEN}`).toString('base64')}` },
      // Credentials of the wrong role: a gateway's MQTT password, an enrolment token.
      { authorization: `Bearer ${gw.credentials!.mqtt.password}` },
      { authorization: `Bearer wpt_${'A'.repeat(43)}` },
      { cookie: `token=${OPERATOR_TOKEN}` },
      { 'x-operator-token': OPERATOR_TOKEN },
    ];
    const before = state();
    for (const r of routes.filter(isOperatorOnly)) {
      for (const h of wrong) {
        const res = await call(r.method, `${hub.httpUrl}${fill(r.path, 'x')}`, {
          headers: { ...h, 'content-type': 'application/json' },
          body: JSON.stringify({ site: 'evil' }),
        });
        expect(res.status, `${r.method} ${r.path} with ${JSON.stringify(h)}: ${res.text}`).toBe(401);
      }
    }
    expect(state()).toBe(before);
  });

  it('oversized, malformed and mistyped bodies to every write, with and without credentials: 4xx, nothing changes', async () => {
    const before = state();
    const auth = { authorization: `Bearer ${OPERATOR_TOKEN}` };
    const bodies: Array<{ headers: Record<string, string>; body: string }> = [
      { headers: { 'content-type': 'application/json' }, body: `{"site":"${'a'.repeat(70 * 1024)}"}` },
      { headers: { 'content-type': 'application/json' }, body: '{"site":' },
      { headers: { 'content-type': 'application/json' }, body: '[]' },
      { headers: { 'content-type': 'application/json' }, body: 'null' },
      { headers: { 'content-type': 'application/json' }, body: `${'['.repeat(20_000)}${']'.repeat(20_000)}` },
      { headers: { 'content-type': 'application/json' }, body: '{"site": 5, "ttlSeconds": "x"}' },
      { headers: { 'content-type': 'application/json' }, body: '{"site":"s","ttlSeconds":-1}' },
      { headers: { 'content-type': 'application/json' }, body: '{"site":"s","ttlSeconds":1e309}' },
      {
        headers: { 'content-type': 'application/json' },
        body: '{"__proto__":{"admin":true},"site":"s","ttlSeconds":99999999}',
      },
      { headers: { 'content-type': 'text/plain' }, body: 'site=s' },
      { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'site=s' },
    ];
    // Every write the server has, with the operator's token (so the body is what gets refused).
    const writes = routes
      .filter((r) => r.method !== 'GET')
      .map((r) => ({ method: r.method, path: fill(r.path, 'x') }));
    expect(writes.length).toBeGreaterThanOrEqual(5);
    for (const { method, path } of writes) {
      for (const [b, withAuth] of bodies.flatMap(
        (x) =>
          [
            [x, true],
            [x, false],
          ] as const,
      )) {
        const res = await call(method, `${hub.httpUrl}${path}`, {
          headers: { ...(withAuth ? auth : {}), ...b.headers },
          body: b.body,
        });
        expect(
          res.status,
          `${path} ${b.body.slice(0, 60)}: ${res.text.slice(0, 200)}`,
        ).toBeGreaterThanOrEqual(400);
        expect(res.status, `${path} ${b.body.slice(0, 60)}: ${res.text.slice(0, 200)}`).toBeLessThan(500);
      }
    }
    expect(state()).toBe(before);
  });

  it('injection strings in every path and query parameter: 4xx or an honest empty answer, never 5xx, no header injected', async () => {
    const before = state();
    for (const r of routes) {
      for (const inj of INJECTIONS) {
        const path = fill(r.path, inj);
        const query = ['from', 'limit', 'start', 'end', 'index', 'size', 'first', 'second', 'after']
          .map((k) => `${k}=${inj}`)
          .join('&');
        const res = await call(r.method, `${hub.httpUrl}${path}?${query}`, {
          headers: { authorization: `Bearer ${OPERATOR_TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify({ site: inj, token: inj, publicKey: inj, participant: inj }),
        });
        const what = `${r.method} ${path}?${query}: ${res.status} ${res.text.slice(0, 200)}`;
        expect(res.status, what).toBeLessThan(500);
        expect(res.headers.get('set-cookie'), what).toBeNull();
        expect(res.headers.get('x-injected'), what).toBeNull();
        expect(res.text, what).not.toMatch(/root:x:0:0|BEGIN|SQLITE|syntax error/i);
        // Only the operator's token route may create something (a token for the site named
        // by the injection string, stored as data); nothing else may change state.
        if (!(r.method === 'POST' && r.path === '/v1/enroll-tokens'))
          expect((res.status === 200 || res.status === 201) && r.method !== 'GET', what).toBe(false);
      }
    }
    // Entries and bindings unchanged; only enroll_tokens rows may have been added (as data).
    const b = JSON.parse(before) as { size: number };
    expect((JSON.parse(state()) as { size: number }).size).toBe(b.size);
  });
});
