import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError, api, friendlyMessage, setCsrfToken } from './api';

afterEach(() => {
  vi.unstubAllGlobals();
  setCsrfToken('');
});

function stubFetch(status: number, body: string, contentType = 'application/problem+json') {
  const calls: { url: string; init: RequestInit }[] = [];
  vi.stubGlobal('fetch', async (url: string, init: RequestInit) => {
    calls.push({ url, init });
    return new Response(body, { status, headers: { 'Content-Type': contentType } });
  });
  return calls;
}

describe('api', () => {
  it('sends the CSRF token on writes only', async () => {
    const calls = stubFetch(200, '{}', 'application/json');
    setCsrfToken('tok');
    await api('GET', '/routes');
    await api('PUT', '/routes/a', { name: 'a' });
    expect((calls[0].init.headers as Record<string, string>)['X-CSRF-Token']).toBeUndefined();
    expect((calls[1].init.headers as Record<string, string>)['X-CSRF-Token']).toBe('tok');
    expect(calls[1].url).toBe('/api/v1/routes/a');
  });

  it('turns a problem document into an ApiError with its field errors', async () => {
    stubFetch(400, JSON.stringify({ title: 'Bad Request', status: 400, detail: 'validation failed', errors: [{ field: 'then.forward[0].weight', message: 'must not be negative' }] }));
    const err = (await api('POST', '/routes', {}).catch((e) => e)) as ApiError;
    expect(err).toBeInstanceOf(ApiError);
    expect(err.errors).toEqual([{ field: 'then.forward[0].weight', message: 'must not be negative' }]);
    expect(friendlyMessage(err)).toBe('Validation failed. 1 problem to fix.');
  });

  it('never shows a stack trace or an HTML error page', async () => {
    stubFetch(500, JSON.stringify({ detail: 'panic: boom\n\ngoroutine 1 [running]:\nmain.main()' }));
    const err = await api('GET', '/routes').catch((e) => e);
    expect(friendlyMessage(err)).toBe('The server hit an internal error; details are in its log.');
    stubFetch(502, '<html><body>Bad gateway</body></html>', 'text/html');
    const err2 = await api('GET', '/routes').catch((e) => e);
    expect(friendlyMessage(err2)).toBe('The server hit an internal error; details are in its log.');
  });

  it('says when the server cannot be reached', async () => {
    vi.stubGlobal('fetch', async () => {
      throw new TypeError('Failed to fetch');
    });
    const err = await api('GET', '/routes').catch((e) => e);
    expect(friendlyMessage(err)).toMatch(/did not answer/);
  });

  it('explains a conflict', async () => {
    stubFetch(409, JSON.stringify({ status: 409, title: 'Conflict' }));
    const err = await api('PUT', '/routes/a', {}).catch((e) => e);
    expect(friendlyMessage(err)).toMatch(/Someone else changed this/);
  });
});
