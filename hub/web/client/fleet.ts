// The fleet table: every gateway in one virtualised list (only the rows in view exist in the DOM,
// so 10,000 gateways scroll like 30), filtered by a debounced O(n) pass over plain arrays.
import type { FleetCounts, FleetRow } from '../fleet.js';
import { debounce, fmtAgo, h } from './dom.js';

export const ROW_HEIGHT = 28;
const OVERSCAN = 10;

export interface FleetFilter {
  text: string;
  state: '' | 'online' | 'offline' | 'unknown';
  health: '' | 'ok' | 'stale' | 'error' | 'unknown';
  clock: '' | 'unsynced';
  alerting: boolean;
}

/** The rows whose index passes the filter, in order (pure, for the bench too). */
export function filterRows(
  rows: readonly FleetRow[],
  haystack: readonly string[],
  f: FleetFilter,
): Int32Array {
  const out = new Int32Array(rows.length);
  const needle = f.text.trim().toLowerCase();
  let n = 0;
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i] as FleetRow;
    if (f.state && r[1] !== f.state) continue;
    if (f.health && r[6] !== f.health) continue;
    if (f.clock && r[4] !== 'unsynced') continue;
    if (f.alerting && r[11] === 0) continue;
    if (needle && !(haystack[i] as string).includes(needle)) continue;
    out[n++] = i;
  }
  return out.subarray(0, n);
}

const haystackOf = (r: FleetRow) => `${r[0]} ${r[10]} ${r[3]}`.toLowerCase();

export class FleetView {
  readonly el: HTMLElement;
  private rows: FleetRow[] = [];
  private haystack: string[] = [];
  private indexOf = new Map<string, number>();
  private visible: Int32Array = new Int32Array(0);
  private readonly scroller: HTMLElement;
  private readonly spacer: HTMLElement;
  private readonly body: HTMLElement;
  private readonly countsEl: HTMLElement;
  private readonly shownEl: HTMLElement;
  private readonly pool: HTMLElement[] = [];
  private filter: FleetFilter = { text: '', state: '', health: '', clock: '', alerting: false };
  private readonly refilterSoon = debounce(() => this.refilter(), 120);
  /** Time of the last filter pass, ms (the bench reads it). */
  lastFilterMs = 0;

  constructor(private readonly open: (gw: string) => void) {
    const search = h('input', {
      type: 'search',
      placeholder: 'search id, site, version…',
      'data-testid': 'fleet-search',
      oninput: (e) => {
        this.filter.text = (e.target as HTMLInputElement).value;
        this.refilterSoon();
      },
    });
    const select = (name: keyof FleetFilter, options: string[]) =>
      h(
        'select',
        {
          'data-testid': `fleet-filter-${name}`,
          onchange: (e) => {
            (this.filter as unknown as Record<string, string>)[name] = (e.target as HTMLSelectElement).value;
            this.refilter();
          },
        },
        ...options.map((o) => h('option', { value: o }, o || `any ${name}`)),
      );
    const alerting = h('input', {
      type: 'checkbox',
      onchange: (e) => {
        this.filter.alerting = (e.target as HTMLInputElement).checked;
        this.refilter();
      },
    });
    this.countsEl = h('div', { class: 'counts', 'data-testid': 'fleet-counts' });
    this.shownEl = h('span', { class: 'muted', 'data-testid': 'fleet-shown' });
    this.spacer = h('div', { class: 'spacer' });
    this.body = h('div', { class: 'vrows' });
    this.scroller = h('div', { class: 'vscroll', 'data-testid': 'fleet-scroll' }, this.spacer, this.body);
    this.scroller.addEventListener('scroll', () => this.render(), { passive: true });
    const head = h(
      'div',
      { class: 'vrow vhead' },
      ...[
        'gateway',
        'state',
        'last seen',
        'version',
        'clock',
        'backlog',
        'devices',
        'last proof',
        'receipt',
        'site',
        'alerts',
      ].map((t) => h('span', {}, t)),
    );
    this.el = h(
      'section',
      { class: 'fleet' },
      this.countsEl,
      h(
        'div',
        { class: 'toolbar' },
        search,
        select('state', ['', 'online', 'offline', 'unknown']),
        select('health', ['', 'ok', 'stale', 'error', 'unknown']),
        select('clock', ['', 'unsynced']),
        h('label', {}, alerting, ' alerting'),
        this.shownEl,
      ),
      head,
      this.scroller,
    );
  }

  setAll(rows: FleetRow[], counts: FleetCounts): void {
    this.rows = rows;
    this.haystack = rows.map(haystackOf);
    this.indexOf = new Map(rows.map((r, i) => [r[0], i]));
    this.showCounts(counts);
    this.refilter();
  }

  /** Live changes: replace or add rows, then refilter soon. */
  patch(changed: FleetRow[], counts: FleetCounts): void {
    for (const r of changed) {
      const i = this.indexOf.get(r[0]);
      if (i === undefined) {
        this.indexOf.set(r[0], this.rows.length);
        this.rows.push(r);
        this.haystack.push(haystackOf(r));
      } else {
        this.rows[i] = r;
        this.haystack[i] = haystackOf(r);
      }
    }
    this.showCounts(counts);
    this.refilterSoon();
  }

  private showCounts(c: FleetCounts): void {
    const item = (label: string, n: number, cls: string) =>
      h(
        'div',
        { class: `count ${cls}`, 'data-testid': `count-${label}` },
        h('b', {}, n),
        h('span', {}, label),
      );
    this.countsEl.replaceChildren(
      item('total', c.total, ''),
      item('online', c.online, 'ok'),
      item('offline', c.offline, 'bad'),
      item('unknown', c.unknown, ''),
      item('unsynced', c.unsynced, 'warn'),
      item('unhealthy', c.unhealthy, 'warn'),
      item('alerting', c.alerting, 'bad'),
    );
  }

  refilter(): void {
    const t0 = performance.now();
    this.visible = filterRows(this.rows, this.haystack, this.filter);
    this.lastFilterMs = performance.now() - t0;
    this.shownEl.textContent = `${this.visible.length} of ${this.rows.length} shown`;
    this.spacer.style.height = `${this.visible.length * ROW_HEIGHT}px`;
    this.render();
  }

  render(): void {
    const top = this.scroller.scrollTop;
    const height = this.scroller.clientHeight || 600;
    const first = Math.max(0, Math.floor(top / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(this.visible.length, Math.ceil((top + height) / ROW_HEIGHT) + OVERSCAN);
    const need = last - first;
    while (this.pool.length < need) {
      const row = h('div', { class: 'vrow', role: 'row' });
      for (let c = 0; c < 11; c++) row.append(h('span'));
      row.addEventListener('click', () => {
        const gw = row.dataset.gw;
        if (gw) this.open(gw);
      });
      this.pool.push(row);
    }
    this.body.style.transform = `translateY(${first * ROW_HEIGHT}px)`;
    const now = Date.now();
    const kids: HTMLElement[] = [];
    for (let k = 0; k < need; k++) {
      const r = this.rows[this.visible[first + k] as number] as FleetRow;
      const el = this.pool[k] as HTMLElement;
      fillRow(el, r, now);
      kids.push(el);
    }
    this.body.replaceChildren(...kids);
  }
}

function fillRow(el: HTMLElement, r: FleetRow, now: number): void {
  el.dataset.gw = r[0];
  el.dataset.state = r[1];
  el.setAttribute('data-testid', `fleet-row-${r[0]}`);
  const cells = el.children;
  const set = (i: number, text: string, cls = '') => {
    const c = cells[i] as HTMLElement;
    if (c.textContent !== text) c.textContent = text;
    if (c.className !== cls) c.className = cls;
  };
  set(0, r[0], 'mono');
  set(1, r[1], `pill ${r[1]}`);
  set(2, fmtAgo(r[2], now));
  set(3, r[3] || '—');
  set(4, r[4], r[4] === 'unsynced' ? 'warn' : '');
  set(5, r[5] === null ? '—' : String(r[5]), r[5] !== null && r[5] > 0 ? 'warn' : '');
  set(6, r[6], `health ${r[6]}`);
  set(7, r[7] === null ? '—' : `#${r[7]} ${fmtAgo(r[8], now)}`);
  set(8, r[9] === null ? '—' : r[9] ? 'receipted' : 'waiting');
  set(9, r[10] || '—');
  set(10, r[11] ? String(r[11]) : '', r[11] ? 'bad' : '');
}
