// The UI's one way to reach the API: relative URLs, JSON both ways, the CSRF token from the login
// reply on every mutation (the server refuses a POST without it), a 401 sends the page back to
// login, a 403 re-reads the session's token (`GET /api/session`) and tries once more.

import { signal } from '@preact/signals';

export interface Session {
  user: string;
  csrfToken: string;
}

/** undefined while the page does not know yet; null when logged out. */
export const session = signal<Session | null | undefined>(undefined);

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    const b = body as { error?: unknown; path?: unknown } | undefined;
    const text = typeof b?.error === 'string' ? b.error : `HTTP ${status}`;
    super(typeof b?.path === 'string' && b.path !== '' && !text.startsWith(b.path) ? `${b.path}: ${text}` : text);
  }
}

async function send(method: 'GET' | 'POST', path: string, body: unknown): Promise<Response> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (method !== 'GET') {
    headers['content-type'] = 'application/json';
    const token = session.value?.csrfToken;
    if (token) headers['x-csrf-token'] = token;
  }
  return fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    ...(method !== 'GET' ? { body: JSON.stringify(body ?? {}) } : {}),
  });
}

async function parse(response: Response): Promise<unknown> {
  const text = await response.text();
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return { error: text.slice(0, 200) };
  }
}

async function call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  let response = await send(method, path, body);
  if (response.status === 403 && method !== 'GET' && session.value) {
    // The token may have changed (another tab logged in again): re-read it, try once more.
    if (await refreshSession()) response = await send(method, path, body);
  }
  const json = await parse(response);
  if (response.status === 401 && path !== '/api/login') session.value = null;
  if (!response.ok) throw new ApiError(response.status, json);
  return json as T;
}

export const get = <T>(path: string): Promise<T> => call<T>('GET', path);
export const post = <T>(path: string, body?: unknown): Promise<T> => call<T>('POST', path, body);

/** Re-reads the session (after a reload the token lives only on the server); false when logged out. */
export async function refreshSession(): Promise<boolean> {
  try {
    // Bounded: a router that does not answer leaves the login form (which then says why), not "Loading…" for ever.
    const signal = typeof AbortSignal.timeout === 'function' ? { signal: AbortSignal.timeout(10_000) } : {};
    const response = await fetch('/api/session', { headers: { accept: 'application/json' }, credentials: 'same-origin', ...signal });
    if (!response.ok) {
      session.value = null;
      return false;
    }
    const body = (await response.json()) as Partial<Session>;
    if (typeof body.csrfToken !== 'string') {
      session.value = null;
      return false;
    }
    session.value = { user: typeof body.user === 'string' ? body.user : '', csrfToken: body.csrfToken };
    return true;
  } catch {
    session.value = null;
    return false;
  }
}

export async function login(user: string, password: string): Promise<void> {
  const reply = await post<{ csrfToken?: string }>('/api/login', { user, password });
  if (typeof reply?.csrfToken !== 'string') throw new Error('the server did not send a CSRF token');
  session.value = { user, csrfToken: reply.csrfToken };
}

export async function logout(): Promise<void> {
  try {
    await post('/api/logout');
  } finally {
    session.value = null;
  }
}

export function messageOf(error: unknown): string {
  if (error instanceof ApiError && error.status === 429) return `${error.message} (too many attempts; wait and try again)`;
  return error instanceof Error ? error.message : String(error);
}
