import { createServer, type IncomingMessage, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import {
  backoffDelay,
  DEFAULT_RETRY,
  parseRetryAfter,
  PartnerHttpClient,
  PermanentPartnerError,
  RateLimiter,
  TransientPartnerError,
} from './http.js';

type Reply = { status: number; body?: unknown; headers?: Record<string, string> };
let server: Server | undefined;
afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

/** A server answering the scripted replies in turn, recording each request's MS-RequestId. */
async function scripted(
  replies: Reply[],
): Promise<{ url: string; seen: { id: string | undefined; method: string | undefined }[] }> {
  const seen: { id: string | undefined; method: string | undefined }[] = [];
  server = createServer((req: IncomingMessage, res) => {
    seen.push({ id: req.headers['ms-requestid'] as string | undefined, method: req.method });
    const r = replies[Math.min(seen.length - 1, replies.length - 1)]!;
    res.writeHead(r.status, { 'content-type': 'application/json', ...r.headers });
    res.end(r.body === undefined ? '' : JSON.stringify(r.body));
  });
  await new Promise<void>((r) => server!.listen(0, () => r()));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, seen };
}

const fast = { retry: { baseDelayMs: 1, maxDelayMs: 5, timeoutMs: 2000 } };

describe('PartnerHttpClient', () => {
  it('retries 429 and 500 with the same MS-RequestId, then returns the answer', async () => {
    const { url, seen } = await scripted([
      { status: 429, headers: { 'retry-after': '0' } },
      { status: 500 },
      { status: 200, body: { ok: true } },
    ]);
    const waits: number[] = [];
    const client = new PartnerHttpClient({
      baseUrl: url,
      ...fast,
      sleep: (ms) => {
        waits.push(ms);
        return Promise.resolve();
      },
    });
    const res = await client.request<{ ok: boolean }>('/v1/x', { method: 'PUT', body: { a: 1 } });
    expect(res.body).toEqual({ ok: true });
    expect(seen).toHaveLength(3);
    expect(new Set(seen.map((s) => s.id)).size).toBe(1);
    expect(waits).toHaveLength(2);
  });

  it('honours Retry-After as the floor of the wait', async () => {
    const { url } = await scripted([
      { status: 429, headers: { 'retry-after': '2' } },
      { status: 200, body: {} },
    ]);
    const waits: number[] = [];
    const client = new PartnerHttpClient({
      baseUrl: url,
      ...fast,
      sleep: (ms) => {
        waits.push(ms);
        return Promise.resolve();
      },
    });
    await client.request('/v1/x');
    expect(waits[0]).toBeGreaterThanOrEqual(2000);
  });

  it('does not hold the caller for a long Retry-After: fails at once as transient, with the wait', async () => {
    const { url, seen } = await scripted([
      { status: 429, headers: { 'retry-after': '3600' } },
      { status: 200, body: {} },
    ]);
    const waits: number[] = [];
    const client = new PartnerHttpClient({
      baseUrl: url,
      ...fast,
      sleep: (ms) => {
        waits.push(ms);
        return Promise.resolve();
      },
    });
    const err = await client.request('/v1/x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransientPartnerError);
    expect((err as TransientPartnerError).retryAfterMs).toBe(3_600_000);
    expect(waits).toEqual([]);
    expect(seen).toHaveLength(1);
  });

  it('throws a permanent error at once for 4xx, with the service body', async () => {
    const { url, seen } = await scripted([
      { status: 404, body: { code: 3000, description: 'not found' } },
    ]);
    const client = new PartnerHttpClient({ baseUrl: url, ...fast });
    const err = await client.request('/v1/mpn').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentPartnerError);
    expect((err as PermanentPartnerError).body).toEqual({ code: 3000, description: 'not found' });
    expect(seen).toHaveLength(1);
  });

  it('retries 408 and 409 (a conflict that clears), permanent only for the other 4xx', async () => {
    const { url, seen } = await scripted([
      { status: 408 },
      { status: 409, body: { code: 2000, description: 'operation in progress' } },
      { status: 200, body: {} },
    ]);
    const client = new PartnerHttpClient({ baseUrl: url, ...fast, sleep: async () => {} });
    expect((await client.request('/v1/x', { method: 'POST', body: {} })).status).toBe(200);
    expect(seen).toHaveLength(3);
  });

  it('returns accepted statuses as answers', async () => {
    const { url } = await scripted([{ status: 404, body: { code: 3000 } }]);
    const res = await new PartnerHttpClient({ baseUrl: url, ...fast }).request('/v1/mpn', {
      accept: [404],
    });
    expect(res.status).toBe(404);
  });

  it('gives up after maxAttempts with a transient error', async () => {
    const { url, seen } = await scripted([{ status: 503 }]);
    const client = new PartnerHttpClient({
      baseUrl: url,
      retry: { ...fast.retry, maxAttempts: 3 },
      sleep: async () => {},
    });
    await expect(client.request('/v1/x')).rejects.toBeInstanceOf(TransientPartnerError);
    expect(seen).toHaveLength(3);
  });

  it('treats a timeout as transient', async () => {
    server = createServer(() => {
      /* never answers */
    });
    await new Promise<void>((r) => server!.listen(0, () => r()));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const client = new PartnerHttpClient({
      baseUrl: url,
      retry: { maxAttempts: 1, timeoutMs: 50 },
    });
    await expect(client.request('/slow')).rejects.toBeInstanceOf(TransientPartnerError);
    server.closeAllConnections();
  });
});

describe('backoff and Retry-After', () => {
  it('grows exponentially with full jitter and a cap', () => {
    expect(backoffDelay(1, DEFAULT_RETRY, undefined, () => 1)).toBe(200);
    expect(backoffDelay(3, DEFAULT_RETRY, undefined, () => 1)).toBe(800);
    expect(backoffDelay(30, DEFAULT_RETRY, undefined, () => 1)).toBe(10_000);
    expect(backoffDelay(3, DEFAULT_RETRY, undefined, () => 0)).toBe(0);
    expect(backoffDelay(1, DEFAULT_RETRY, 5000, () => 1)).toBe(5000);
  });

  it('parses seconds and HTTP dates', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4000)).toBe(6000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(null)).toBeUndefined();
  });
});

describe('RateLimiter', () => {
  it('limits each tenant on its own, letting others through', async () => {
    const limiter = new RateLimiter(20, 2);
    const t0 = Date.now();
    await Promise.all([0, 1, 2, 3].map(() => limiter.take('big')));
    const bigMs = Date.now() - t0;
    const t1 = Date.now();
    await limiter.take('small');
    expect(Date.now() - t1).toBeLessThan(20);
    // Two from the burst, then two more at 20/s: about 100 ms.
    expect(bigMs).toBeGreaterThanOrEqual(80);
  });
});
