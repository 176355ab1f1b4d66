// The dashboard app: login, a hash router over the views, and one live event stream that patches
// whatever is on screen.
import type { FleetCounts, FleetRow } from '../fleet.js';
import { ApiError, api, Live, type SessionInfo, setCsrf } from './api.js';
import { h } from './dom.js';
import { FleetView } from './fleet.js';
import {
  alertsView,
  contractsView,
  gatewayView,
  type LiveHandler,
  ledgerView,
  pricesView,
  validatorView,
} from './views.js';

const app = document.getElementById('app') as HTMLElement;
const live = new Live();
let session: SessionInfo | undefined;
let fleet: FleetView | undefined;
let current: LiveHandler | undefined;
const liveStats = { fleetEvents: 0, lastFleetAt: 0, lastPatchMs: 0 };
const main = h('main', { id: 'view' });
const alertBadge = h('span', { class: 'badge', 'data-testid': 'alert-badge' });
const liveDot = h(
  'span',
  { class: 'live', title: 'live updates', 'data-testid': 'live-state' },
  'connecting',
);

declare global {
  interface Window {
    /** For the bench script and tests: the fleet view and its timing. */
    wattproof?: {
      fleet: FleetView | undefined;
      /** Live fleet updates: how many arrived, when the last did (epoch ms), what it cost the page. */
      live?: { fleetEvents: number; lastFleetAt: number; lastPatchMs: number };
    };
  }
}

function showLogin(message = ''): void {
  live.close();
  const user = h('input', {
    name: 'user',
    autocomplete: 'username',
    'data-testid': 'login-user',
  }) as HTMLInputElement;
  const password = h('input', {
    name: 'password',
    type: 'password',
    autocomplete: 'current-password',
    'data-testid': 'login-password',
  }) as HTMLInputElement;
  const error = h('p', { class: 'bad', 'data-testid': 'login-error' }, message);
  const form = h(
    'form',
    {
      class: 'login',
      onsubmit: async (e) => {
        e.preventDefault();
        try {
          const s = await api.post<SessionInfo>('/ui/api/login', {
            user: user.value,
            password: password.value,
          });
          password.value = '';
          start(s);
        } catch (err) {
          error.textContent = err instanceof ApiError ? err.message : 'login failed';
        }
      },
    },
    h('h1', {}, 'Wattproof hub'),
    h('label', {}, 'user ', user),
    h('label', {}, 'password ', password),
    h('button', { type: 'submit', 'data-testid': 'login-submit' }, 'log in'),
    error,
  );
  app.replaceChildren(form);
}

function nav(): HTMLElement {
  const link = (href: string, text: string, extra?: HTMLElement) =>
    h('a', { href, 'data-testid': `nav-${text}` }, text, extra ?? '');
  return h(
    'header',
    {},
    h('b', {}, 'Wattproof hub'),
    link('#/fleet', 'fleet'),
    link('#/ledger', 'ledger'),
    link('#/contracts', 'contracts'),
    link('#/validator', 'validator'),
    link('#/prices', 'prices'),
    link('#/alerts', 'alerts', alertBadge),
    h('span', { class: 'grow' }),
    liveDot,
    h('span', { class: 'muted', 'data-testid': 'whoami' }, `${session?.user} (${session?.role})`),
    h(
      'button',
      {
        'data-testid': 'logout',
        onclick: async () => {
          await api.post('/ui/api/logout').catch(() => undefined);
          setCsrf(null);
          session = undefined;
          location.hash = '';
          showLogin();
        },
      },
      'log out',
    ),
  );
}

function setAlerts(n: number): void {
  alertBadge.textContent = n > 0 ? ` ${n}` : '';
}

async function route(): Promise<void> {
  if (!session) return;
  const hash = location.hash || '#/fleet';
  const [, page, arg] = hash.split('/');
  current = undefined;
  main.replaceChildren(h('p', { class: 'muted' }, 'loading…'));
  try {
    if (page === 'gw' && arg) {
      live.watch(decodeURIComponent(arg));
      current = await gatewayView(main, decodeURIComponent(arg), session);
      return;
    }
    live.watch(undefined);
    if (page === 'ledger') current = await ledgerView(main);
    else if (page === 'contracts') current = await contractsView(main);
    else if (page === 'validator') current = await validatorView(main, session);
    else if (page === 'prices') current = await pricesView(main);
    else if (page === 'alerts') current = await alertsView(main, session);
    else {
      fleet ??= new FleetView((gw) => {
        location.hash = `#/gw/${encodeURIComponent(gw)}`;
      });
      window.wattproof = { fleet, live: liveStats };
      main.replaceChildren(fleet.el);
      const f = await api.get<{ rows: FleetRow[]; counts: FleetCounts }>('/ui/api/fleet');
      fleet.setAll(f.rows, f.counts);
    }
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return showLogin('Your session ended; log in again.');
    main.replaceChildren(h('p', { class: 'bad' }, `could not load: ${(err as Error).message}`));
  }
}

function start(s: SessionInfo): void {
  session = s;
  setCsrf(s.csrf);
  app.replaceChildren(nav(), main);
  void api.get<{ active: unknown[] }>('/ui/api/alerts').then((a) => setAlerts(a.active.length));
  void route();
}

live.on((event, data) => {
  if (event === 'open') liveDot.textContent = 'live';
  else if (event === 'error') liveDot.textContent = 'reconnecting';
  else if (event === 'session-ended') showLogin('Your session ended; log in again.');
  else if (event === 'fleet') {
    const f = data as { rows: FleetRow[]; counts: FleetCounts };
    const t0 = performance.now();
    fleet?.patch(f.rows, f.counts);
    liveStats.fleetEvents++;
    liveStats.lastFleetAt = Date.now();
    liveStats.lastPatchMs = performance.now() - t0;
  } else if (event === 'alerts') setAlerts((data as { active: number }).active);
  current?.(event, data);
});

window.addEventListener('hashchange', () => void route());

api
  .get<SessionInfo>('/ui/api/session')
  .then(start)
  .catch(() => showLogin());
