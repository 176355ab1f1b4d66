// Talks to /ui/api: same-origin fetches with the session cookie, the CSRF token on every write,
// and one EventSource for live updates.
export interface SessionInfo {
  user: string;
  role: 'operator' | 'validator' | 'read-only';
  csrf: string | null;
  expiresMs: number | null;
}

let csrf: string | null = null;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    detail: string,
  ) {
    super(detail);
  }
}

export function setCsrf(token: string | null): void {
  csrf = token;
}

async function call<T>(method: string, url: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrf) headers['x-csrf-token'] = csrf;
  const res = await fetch(url, {
    method,
    headers,
    credentials: 'same-origin',
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) {
    const e = (data ?? {}) as { error?: string; detail?: string };
    throw new ApiError(res.status, e.error ?? 'http', e.detail ?? `${res.status} ${res.statusText}`);
  }
  return data as T;
}

export const api = {
  get: <T>(url: string) => call<T>('GET', url),
  post: <T>(url: string, body: unknown = {}) => call<T>('POST', url, body),
};

export type Listener = (event: string, data: unknown) => void;

/** One EventSource; reopened when the watched gateway changes. */
export class Live {
  private es: EventSource | undefined;
  private gw: string | undefined;
  private readonly listeners = new Set<Listener>();
  connected = false;

  on(l: Listener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  watch(gw: string | undefined): void {
    if (this.es && this.gw === gw) return;
    this.gw = gw;
    this.es?.close();
    const es = new EventSource(`/ui/api/events${gw ? `?gw=${encodeURIComponent(gw)}` : ''}`);
    this.es = es;
    for (const ev of ['fleet', 'telemetry', 'ledger', 'contracts', 'alerts', 'session-ended']) {
      es.addEventListener(ev, (m) => {
        let data: unknown = null;
        try {
          data = JSON.parse((m as MessageEvent<string>).data);
        } catch {
          return;
        }
        for (const l of this.listeners) l(ev, data);
      });
    }
    es.onopen = () => {
      this.connected = true;
      for (const l of this.listeners) l('open', null);
    };
    es.onerror = () => {
      this.connected = false;
      for (const l of this.listeners) l('error', null);
    };
  }

  close(): void {
    this.es?.close();
    this.es = undefined;
  }
}
