// The dashboard's pages other than the fleet: gateway detail, ledger explorer, contracts and
// settlement, the validator's workspace, prices and alerts. Each is a function that fills `root`
// and returns a handler for live events (or nothing).
import { b64url, utf8 } from '../../../protocol/bytes.js';
import { sha256 } from '../../../protocol/hash.js';
import { deriveId } from '../../../protocol/identity.js';
import { publicKeyOf } from '../../../protocol/keys.js';
import {
  signMessage,
  VALIDATOR_DECISION_TYP,
  type ValidatorDecision,
} from '../../../protocol/messages/index.js';
import { api, type SessionInfo } from './api.js';
import { LineChart } from './charts.js';
import { fmtAgo, fmtTime, h } from './dom.js';
import { type InclusionAnswer, verifyInclusionAnswer } from './verify.js';

export type LiveHandler = (event: string, data: unknown) => void;

// biome-ignore lint/suspicious/noExplicitAny: JSON answers from our own API, narrowed where used
type Json = any;

const table = (heads: string[], rows: HTMLElement[], testid?: string) =>
  h(
    'table',
    testid ? { 'data-testid': testid } : {},
    h('thead', {}, h('tr', {}, ...heads.map((t) => h('th', {}, t)))),
    h('tbody', {}, ...rows),
  );

const empty = (text: string) => h('p', { class: 'empty' }, text);

// --- gateway detail --------------------------------------------------------------------------------

export async function gatewayView(root: HTMLElement, gw: string, session: SessionInfo): Promise<LiveHandler> {
  const d: Json = await api.get(`/ui/api/gateways/${encodeURIComponent(gw)}`);
  const tele: Json = await api.get(`/ui/api/gateways/${encodeURIComponent(gw)}/telemetry`);
  const status = d.status;
  const charts = new Map<string, LineChart>();
  const chartsEl = h('div', { class: 'charts' });
  const series = (dev: string, point: string) => tele.devices?.[dev]?.[point] ?? { t: [], v: [] };
  for (const dev of Object.keys(tele.devices ?? {}).sort()) {
    const pts = tele.devices[dev] as Record<string, { t: number[]; v: number[] }>;
    const add = (key: string, title: string, unit: string, names: string[]) => {
      const present = names.filter((n) => pts[n]);
      if (present.length === 0) return;
      const c = new LineChart(
        `${dev} — ${title}`,
        present.map((n) => ({ label: n, t: [...series(dev, n).t], v: [...series(dev, n).v] })),
        unit,
        `chart-${dev}-${key}`,
      );
      charts.set(`${dev}/${key}`, c);
      chartsEl.append(c.el);
    };
    add('power', 'power', 'W', ['W']);
    add('energy', 'energy counters', 'Wh', ['TotWhImp', 'TotWhExp']);
    add('soc', 'state of charge', '%', ['SoC']);
  }
  if (charts.size === 0) chartsEl.append(empty('No telemetry received from this gateway yet.'));

  const gapAt = new Map<number, Json>();
  for (const g of d.gaps as Json[]) gapAt.set(g.from, g);
  const chainRows: HTMLElement[] = [];
  let prevSeq: number | null = null;
  for (const e of d.chain as Json[]) {
    if (prevSeq !== null && e.seq !== prevSeq + 1) {
      const g = gapAt.get(prevSeq + 1);
      chainRows.push(
        h(
          'tr',
          { class: 'gap', 'data-testid': 'chain-gap' },
          h(
            'td',
            { colspan: 8 },
            `gap: seq ${prevSeq + 1}–${e.seq - 1} missing${g ? ` (gap note at index ${g.index})` : ''}`,
          ),
        ),
      );
    }
    prevSeq = e.seq;
    const flagged = (e.flags as string[]).length > 0;
    const result = h('span', { class: 'muted' });
    chainRows.push(
      h(
        'tr',
        { class: flagged ? 'flagged' : '', 'data-testid': `chain-entry-${e.seq}` },
        h('td', {}, e.seq),
        h('td', {}, e.index),
        h('td', {}, e.meter ?? e.typ),
        h('td', {}, e.interval ? `${fmtTime(e.interval.start)} → ${fmtTime(e.interval.end).slice(11)}` : '—'),
        h('td', {}, e.importWh ?? '—', ' / ', e.exportWh ?? '—'),
        h('td', { class: flagged ? 'warn' : '' }, (e.flags as string[]).join(', ') || '—'),
        h('td', {}, e.receipted ? 'receipted' : 'waiting'),
        h(
          'td',
          {},
          h(
            'button',
            {
              'data-testid': `verify-${e.index}`,
              onclick: async () => {
                result.textContent = '…';
                const r = await verifyEntry(e.index);
                result.textContent = r.ok
                  ? ' verified ✓'
                  : ` FAILED: ${r.steps.find((s) => !s.ok)?.detail ?? ''}`;
                result.className = r.ok ? 'ok' : 'bad';
              },
            },
            'verify',
          ),
          result,
        ),
      ),
    );
  }

  const devRows = (d.devices as Json[]).map((dv) =>
    h(
      'tr',
      {},
      h('td', {}, dv.name),
      h('td', { class: `health ${dv.health}` }, dv.health),
      h('td', {}, fmtAgo(dv.lastSampleMs)),
      h('td', {}, (dv.points as string[]).join(', ') || '—'),
      h('td', {}, (dv.flags as string[]).join(', ') || '—'),
    ),
  );
  root.replaceChildren(
    h('p', {}, h('a', { href: '#/fleet' }, '← fleet')),
    h('h2', { class: 'mono' }, gw),
    h(
      'div',
      { class: 'facts' },
      fact('state', status?.state ?? 'unknown', `gw-state`),
      fact('since', fmtAgo(status?.sinceMs)),
      fact('last seen', fmtAgo(d.lastSeenMs)),
      fact('agent', status?.version ?? '—'),
      fact('clock', status ? (status.clockSynchronised ? 'synchronised' : 'NOT synchronised') : '—'),
      fact('site', d.binding?.site ?? '—'),
      fact('participant', d.binding?.participant ?? '—'),
      fact('backlog (reported)', d.reportedBacklog ? String(d.reportedBacklog.value) : '—'),
    ),
    d.alerts.length > 0
      ? h(
          'div',
          { class: 'alerts-inline' },
          ...(d.alerts as Json[]).map((a) =>
            h('div', { class: `alert ${a.severity}` }, `${a.kind}: ${a.detail}`),
          ),
        )
      : '',
    h('h3', {}, 'Devices'),
    devRows.length
      ? table(['device', 'health', 'last sample', 'points', 'last proof flags'], devRows)
      : empty('No devices reported yet.'),
    h('h3', {}, 'Live telemetry'),
    chartsEl,
    h('h3', {}, 'Proof chain'),
    d.equivocations.length > 0
      ? h(
          'div',
          { class: 'alert critical' },
          `equivocation at seq ${(d.equivocations as Json[]).map((q) => q.seq).join(', ')} — evidence kept`,
        )
      : '',
    chainRows.length
      ? table(
          ['seq', 'index', 'meter', 'interval', 'import / export Wh', 'flags', 'receipt', 'inclusion'],
          chainRows,
          'proof-chain',
        )
      : empty('No chained messages in the ledger yet.'),
    h('h3', {}, 'Contracts'),
    d.contracts.length
      ? contractsTable(d.contracts)
      : empty('No contract names this gateway as a delivery point.'),
  );
  void session;
  return (event, data) => {
    if (event !== 'telemetry') return;
    const t = data as {
      gw: string;
      samples: { t: number; device: string; point: string; value: number; scale?: number }[];
    };
    if (t.gw !== gw) return;
    for (const s of t.samples) {
      const v = s.scale ? s.value * 10 ** s.scale : s.value;
      const key =
        s.point === 'W' ? 'power' : s.point === 'SoC' ? 'soc' : s.point.startsWith('TotWh') ? 'energy' : '';
      charts.get(`${s.device}/${key}`)?.append(s.point, s.t / 1, v);
    }
  };
}

function fact(label: string, value: string, testid?: string) {
  return h(
    'div',
    { class: 'fact' },
    h('span', {}, label),
    h('b', testid ? { 'data-testid': testid } : {}, value),
  );
}

// --- ledger explorer -------------------------------------------------------------------------------

const VKEY_STORE = 'wattproof.logVerifierKey';

export async function verifierKey(): Promise<string> {
  const pinned = localStorage.getItem(VKEY_STORE);
  if (pinned) return pinned;
  const k: Json = await api.get('/ui/api/keys');
  return k.hub.logVerifierKey as string;
}

export async function verifyEntry(index: number) {
  const a = await api.get<InclusionAnswer>(`/ui/api/ledger/entries/${index}/proof`);
  return verifyInclusionAnswer(a, await verifierKey());
}

export async function ledgerView(root: HTMLElement): Promise<LiveHandler> {
  const keys: Json = await api.get('/ui/api/keys');
  const cps: Json = await api.get('/ui/api/ledger/checkpoints');
  const list: Json = await api.get('/ui/api/ledger/entries');
  const vkeyInput = h('input', {
    class: 'mono wide',
    value: localStorage.getItem(VKEY_STORE) ?? keys.hub.logVerifierKey,
    'data-testid': 'vkey',
  }) as HTMLInputElement;
  const indexInput = h('input', {
    type: 'number',
    min: 0,
    placeholder: 'entry index',
    'data-testid': 'verify-index',
  }) as HTMLInputElement;
  const result = h('div', { class: 'verify-result', 'data-testid': 'verify-result' });
  const run = async (index: number) => {
    result.replaceChildren('verifying…');
    try {
      const a = await api.get<InclusionAnswer>(`/ui/api/ledger/entries/${index}/proof`);
      const r = verifyInclusionAnswer(a, vkeyInput.value.trim());
      result.replaceChildren(
        h(
          'b',
          { class: r.ok ? 'ok' : 'bad', 'data-testid': 'verify-verdict' },
          r.ok ? `VERIFIED: entry ${index} is in the signed log` : `NOT VERIFIED: entry ${index}`,
        ),
        h(
          'ul',
          {},
          ...r.steps.map((s) =>
            h('li', { class: s.ok ? 'ok' : 'bad' }, `${s.ok ? '✓' : '✗'} ${s.what}: ${s.detail}`),
          ),
        ),
      );
    } catch (err) {
      result.replaceChildren(
        h('b', { class: 'bad', 'data-testid': 'verify-verdict' }, `error: ${(err as Error).message}`),
      );
    }
  };
  const rows = (list.entries as Json[])
    .slice()
    .reverse()
    .map((e) =>
      h(
        'tr',
        { 'data-testid': `ledger-entry-${e.index}` },
        h('td', {}, e.index),
        h('td', {}, e.typ.replace(/^wattproof\./, '')),
        h('td', { class: 'mono' }, e.kid),
        h('td', {}, e.seq ?? '—'),
        h('td', {}, fmtTime(e.receivedMs)),
        h('td', { class: 'mono small' }, e.leafHash.slice(0, 16), '…'),
        h(
          'td',
          {},
          h(
            'button',
            {
              onclick: () => {
                indexInput.value = String(e.index);
                void run(e.index);
              },
            },
            'verify',
          ),
        ),
      ),
    );
  root.replaceChildren(
    h('h2', {}, 'Ledger'),
    h(
      'div',
      { class: 'facts' },
      fact('entries', String(list.size), 'ledger-size'),
      fact(
        'latest checkpoint',
        cps.latest ? `size ${cps.latest.size}, ${fmtAgo(cps.latest.createdMs)}` : 'none yet',
      ),
      fact('origin', keys.hub.logOrigin),
      fact('hub', keys.hub.id),
    ),
    h('h3', {}, 'Verify an entry in this browser'),
    h(
      'p',
      { class: 'muted' },
      'The page checks the checkpoint signature with the log verifier key below, recomputes the leaf hash from the entry bytes and follows the inclusion proof to the signed root — with the protocol code itself. Pin a key you obtained independently to check this hub.',
    ),
    h('label', {}, 'log verifier key ', vkeyInput),
    h(
      'button',
      {
        onclick: () => {
          localStorage.setItem(VKEY_STORE, vkeyInput.value.trim());
        },
      },
      'pin',
    ),
    h(
      'div',
      { class: 'toolbar' },
      indexInput,
      h(
        'button',
        { 'data-testid': 'verify-run', onclick: () => void run(Number(indexInput.value)) },
        'verify inclusion',
      ),
    ),
    result,
    h('h3', {}, 'Latest entries'),
    table(['index', 'type', 'signer', 'seq', 'received', 'leaf hash', ''], rows, 'ledger-entries'),
    h('h3', {}, 'Checkpoints'),
    h('pre', { class: 'note', 'data-testid': 'checkpoint-note' }, cps.latest?.note ?? 'none yet'),
  );
  return () => {};
}

// --- contracts ------------------------------------------------------------------------------------

function contractsTable(contracts: Json[]) {
  return table(
    ['contract', 'status', 'seller → buyer', 'window', 'contracted Wh', 'delivered Wh', 'payment', 'proofs'],
    contracts.map((c) =>
      h(
        'tr',
        { 'data-testid': `contract-${c.id}`, 'data-status': c.status },
        h('td', { class: 'mono small' }, c.id.slice(0, 14), '…'),
        h('td', { class: `pill ${c.status}`, 'data-testid': 'contract-status' }, c.status),
        h('td', { class: 'mono small' }, c.seller, ' → ', c.buyer),
        h('td', {}, `${fmtTime(c.window.start)} → ${fmtTime(c.window.end).slice(11)}`),
        h('td', {}, c.contractedWh ?? '—'),
        h('td', {}, c.deliveredWh ?? '—'),
        h('td', {}, c.paymentMinor ?? '—'),
        h('td', {}, c.proofs),
      ),
    ),
    'contracts',
  );
}

export async function contractsView(root: HTMLElement): Promise<LiveHandler> {
  const draw = async () => {
    const s: Json = await api.get('/ui/api/contracts');
    root.replaceChildren(
      h('h2', {}, 'Contracts and settlement'),
      s.contracts.length ? contractsTable(s.contracts) : empty('No contracts in the ledger yet.'),
      h('h3', {}, `Participants and balances (${s.currency}, minor units)`),
      s.participants.length
        ? table(
            ['participant', 'role', 'status', 'region', 'available', 'escrow'],
            (s.participants as Json[]).map((p) =>
              h(
                'tr',
                {},
                h('td', { class: 'mono' }, p.id),
                h('td', {}, p.role),
                h('td', { class: `pill ${p.status}` }, p.status),
                h('td', {}, p.region),
                h('td', {}, p.available ?? 0),
                h('td', {}, p.escrow ?? 0),
              ),
            ),
            'participants',
          )
        : empty('No participants have applied yet.'),
      h(
        'p',
        { class: 'muted' },
        `credited ${s.money.creditedMinor}, unpaid ${s.money.unpaidMinor}; folded ${s.size} entries`,
      ),
    );
  };
  await draw();
  return (event) => {
    if (event === 'contracts') void draw();
  };
}

// --- validator workspace ----------------------------------------------------------------------------

let validatorSecret: Uint8Array | undefined;

export async function validatorView(root: HTMLElement, session: SessionInfo): Promise<LiveHandler> {
  const draw = async () => {
    const q: Json = await api.get('/ui/api/validator/queue');
    const canDecide = session.role === 'validator';
    const keyState = h(
      'span',
      { class: 'muted', 'data-testid': 'validator-key-state' },
      validatorSecret ? `key loaded: ${deriveId('val', publicKeyOf(validatorSecret))}` : 'no key loaded',
    );
    const keyInput = h('input', {
      type: 'file',
      accept: '.json,application/json',
      'data-testid': 'validator-key-file',
      onchange: async (e) => {
        const f = (e.target as HTMLInputElement).files?.[0];
        if (!f) return;
        try {
          const body = JSON.parse(await f.text()) as { secretKey?: unknown };
          if (typeof body.secretKey !== 'string') throw new Error('no secretKey in the file');
          const secret = b64url.decode(body.secretKey);
          const id = deriveId('val', publicKeyOf(secret));
          if (!(q.validators as Json[]).some((v) => v.id === id))
            throw new Error(`${id} is not a validator of this hub`);
          validatorSecret = secret;
          keyState.textContent = `key loaded: ${id}`;
        } catch (err) {
          keyState.textContent = `not loaded: ${(err as Error).message}`;
        }
      },
    });
    const decide = async (
      kind: ValidatorDecision['kind'],
      subject: string,
      outcome: ValidatorDecision['outcome'],
      reason: string,
      inputsHash: string | null,
      status: HTMLElement,
    ) => {
      if (!validatorSecret) {
        status.textContent = 'load your validator key first';
        return;
      }
      const kid = deriveId('val', publicKeyOf(validatorSecret));
      const payload: ValidatorDecision = {
        kind,
        subject,
        outcome,
        reasons: reason ? [{ code: 'validator-judgement', message: reason }] : [],
        inputsHash: inputsHash ?? b64url.encode(sha256(utf8(subject))),
        at: Date.now(),
      };
      try {
        // Signed here, in the page: the validator's key never reaches the hub.
        const jws = signMessage(VALIDATOR_DECISION_TYP, kid, payload, validatorSecret);
        const r = await api.post<{ index: number }>('/ui/api/validator/decisions', { jws });
        status.textContent = `signed and appended at index ${r.index}`;
      } catch (err) {
        status.textContent = `refused: ${(err as Error).message}`;
      }
    };
    const decisionCell = (kind: ValidatorDecision['kind'], subject: string, inputsHash: string | null) => {
      const reason = h('input', {
        placeholder: 'reason (required to refuse)',
        'data-testid': `reason-${subject}`,
      }) as HTMLInputElement;
      const status = h('span', { class: 'muted', 'data-testid': `decision-status-${subject}` });
      return h(
        'td',
        {},
        reason,
        h(
          'button',
          {
            disabled: !canDecide,
            'data-testid': `approve-${subject}`,
            onclick: () => void decide(kind, subject, 'approved', reason.value.trim(), inputsHash, status),
          },
          'approve',
        ),
        h(
          'button',
          {
            disabled: !canDecide,
            'data-testid': `refuse-${subject}`,
            onclick: () => {
              if (!reason.value.trim()) {
                status.textContent = 'a refusal needs a reason';
                return;
              }
              void decide(kind, subject, 'refused', reason.value.trim(), inputsHash, status);
            },
          },
          'refuse',
        ),
        status,
      );
    };
    root.replaceChildren(
      h('h2', {}, 'Validator workspace'),
      canDecide
        ? h('p', {}, 'Validator key (JSON with secretKey; stays in this page): ', keyInput, ' ', keyState)
        : h('p', { class: 'muted' }, 'Only the validator role decides; you see the queue read-only.'),
      h('h3', {}, 'Pending registrations'),
      q.pendingRegistrations.length
        ? table(
            ['participant', 'role', 'region / node', 'gateways', 'capacity W', 'decision'],
            (q.pendingRegistrations as Json[]).map((p) =>
              h(
                'tr',
                { 'data-testid': `pending-${p.id}` },
                h('td', { class: 'mono' }, p.id),
                h('td', {}, p.role),
                h('td', {}, `${p.region} / ${p.gridNode}`),
                h('td', { class: 'mono small' }, (p.gateways as string[]).join(', ')),
                h('td', {}, p.capacityW),
                decisionCell('registration', p.id, p.inputsHash),
              ),
            ),
            'pending-registrations',
          )
        : empty('No registrations waiting.'),
      h('h3', {}, 'Contracts to review'),
      q.proposedContracts.length
        ? table(
            ['contract', 'seller → buyer', 'contracted Wh', 'price', 'decision'],
            (q.proposedContracts as Json[]).map((c) =>
              h(
                'tr',
                {},
                h('td', { class: 'mono small' }, c.id),
                h('td', { class: 'mono small' }, c.seller, ' → ', c.buyer),
                h('td', {}, c.contractedWh ?? '—'),
                h('td', {}, c.priceMinorPerKWh ?? '—'),
                decisionCell('contract-review', c.id, c.inputsHash),
              ),
            ),
            'proposed-contracts',
          )
        : empty('No contracts waiting for review.'),
      h('h3', {}, 'Congestion decisions'),
      q.congestion.length
        ? table(
            ['index', 'subject', 'outcome', 'adjustments', 'reasons'],
            (q.congestion as Json[]).map((c) =>
              h(
                'tr',
                {},
                h('td', {}, c.index),
                h('td', { class: 'mono small' }, c.subject),
                h('td', {}, c.outcome),
                h('td', {}, c.adjustments?.length ?? 0),
                h('td', {}, (c.reasons as Json[]).map((r) => r.message ?? r.code).join('; ')),
              ),
            ),
          )
        : empty('No congestion decisions in the ledger.'),
      h('h3', {}, 'Disputes'),
      q.disputes.length
        ? table(
            ['index', 'subject', 'outcome'],
            (q.disputes as Json[]).map((c) =>
              h(
                'tr',
                {},
                h('td', {}, c.index),
                h('td', { class: 'mono small' }, c.subject),
                h('td', {}, c.outcome),
              ),
            ),
          )
        : empty('No disputes. (Opening disputes lands with the disputes work; rulings will show here.)'),
    );
  };
  await draw();
  return (event) => {
    if (event === 'contracts') void draw();
  };
}

// --- prices and alerts -----------------------------------------------------------------------------

export async function pricesView(root: HTMLElement): Promise<LiveHandler> {
  const p: Json = await api.get('/ui/api/prices');
  root.replaceChildren(h('h2', {}, 'Prices'));
  if (!p.series.length) {
    root.append(
      empty(
        p.available
          ? 'No prices published yet.'
          : 'No market prices yet: this hub publishes none until the markets part runs.',
      ),
    );
    return () => {};
  }
  for (const s of p.series as Json[]) {
    const c = new LineChart(
      `${s.region} — ${s.energy} (${s.currency} minor/kWh)`,
      [
        {
          label: 'clearing',
          t: (s.points as Json[]).map((x) => x.start),
          v: (s.points as Json[]).map((x) => x.clearingMinorPerKWh),
        },
      ],
      `${s.currency}/kWh`,
      `price-${s.region}-${s.energy}`,
    );
    root.append(c.el);
  }
  return () => {};
}

export async function alertsView(root: HTMLElement, session: SessionInfo): Promise<LiveHandler> {
  const draw = async () => {
    const a: Json = await api.get('/ui/api/alerts');
    const row = (x: Json, active: boolean) =>
      h(
        'tr',
        { class: `alert-row ${x.severity}`, 'data-testid': `alert-${x.id}` },
        h('td', {}, x.severity),
        h('td', {}, x.kind),
        h('td', {}, h('a', { href: `#/gw/${x.gw}`, class: 'mono' }, x.gw)),
        h('td', {}, x.detail),
        h('td', {}, fmtAgo(x.raisedMs)),
        h(
          'td',
          {},
          active
            ? x.acknowledged
              ? `ack by ${x.acknowledged.by}`
              : session.role === 'operator'
                ? h(
                    'button',
                    {
                      onclick: async () => {
                        await api.post(`/ui/api/alerts/${encodeURIComponent(x.id)}/ack`);
                        void draw();
                      },
                    },
                    'acknowledge',
                  )
                : '—'
            : `cleared ${fmtAgo(x.clearedMs)}`,
        ),
      );
    root.replaceChildren(
      h('h2', {}, 'Alerts'),
      a.active.length
        ? table(
            ['severity', 'kind', 'gateway', 'detail', 'raised', ''],
            (a.active as Json[]).map((x) => row(x, true)),
            'alerts-active',
          )
        : empty('No active alerts.'),
      h('h3', {}, 'Recently cleared'),
      a.recent.length
        ? table(
            ['severity', 'kind', 'gateway', 'detail', 'raised', ''],
            (a.recent as Json[]).map((x) => row(x, false)),
          )
        : empty('Nothing cleared recently.'),
    );
  };
  await draw();
  // One redraw at a time, and one more if alerts changed meanwhile (a batch per event already).
  let drawing: Promise<void> | undefined;
  let again = false;
  const redraw = (): void => {
    if (drawing) {
      again = true;
      return;
    }
    drawing = draw()
      .catch(() => undefined)
      .finally(() => {
        drawing = undefined;
        if (again) {
          again = false;
          redraw();
        }
      });
  };
  return (event) => {
    if (event === 'alerts') redraw();
  };
}
