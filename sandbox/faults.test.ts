import { describe, expect, it } from 'vitest';
import { faultReply, Faults, routePattern } from './faults.js';

describe('fault injection', () => {
  it('matches a path prefix with * wildcards, escaping everything else', () => {
    expect(routePattern('/v1/accounts/*/users').test('/v1/accounts/a/users/$batch')).toBe(true);
    expect(routePattern('/v1/accounts/*/users').test('/v1/accounts/a/offers')).toBe(false);
    expect(routePattern('/emails:send').test('/emails:send')).toBe(true);
    expect(routePattern('/a.b').test('/aXb')).toBe(false);
  });

  it('answers a fault its number of times, for its method only, and latency alone answers nothing', async () => {
    const f = new Faults();
    f.add({ route: '/x', status: 503, times: 2, method: 'post' });
    f.add({ route: '/y', latencyMs: 1, times: 1 });
    expect(await f.inject('GET', '/x')).toBeUndefined();
    expect((await f.inject('POST', '/x'))?.status).toBe(503);
    expect((await f.inject('POST', '/x'))?.status).toBe(503);
    expect(await f.inject('POST', '/x')).toBeUndefined();
    expect(await f.inject('GET', '/y')).toBeUndefined();
    expect(f.list().map((x) => x.times)).toEqual([0, 0]);
    f.clear();
    expect(f.list()).toEqual([]);
  });

  it('throttles like Partner Center: 429 with Retry-After and its message', () => {
    expect(faultReply(429, 3)).toEqual({
      status: 429,
      headers: { 'retry-after': '3' },
      body: { statusCode: 429, message: 'Rate limit is exceeded. Try again in 3 seconds.' },
    });
    expect(faultReply(500).body).toMatchObject({ code: 800003, source: 'PartnerFD' });
  });
});
