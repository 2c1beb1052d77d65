import { describe, expect, it } from 'vitest';
import { DEFAULT_HTTP_LIMITS, httpLimits } from './settings.js';
import { StartupError } from './errors.js';

describe('httpLimits', () => {
  it("defaults to the real host's 100 MB body limit and headers within seconds", () => {
    expect(httpLimits({})).toEqual(DEFAULT_HTTP_LIMITS);
    expect(DEFAULT_HTTP_LIMITS.maxRequestBodySize).toBe(104_857_600);
    expect(DEFAULT_HTTP_LIMITS.headersTimeoutMs).toBeLessThanOrEqual(10_000);
  });

  it('reads bytes and seconds from the environment', () => {
    expect(
      httpLimits({
        FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: '65536',
        DEVHOST_HEADERS_TIMEOUT: '2.5',
        DEVHOST_REQUEST_TIMEOUT: '30',
      }),
    ).toEqual({ maxRequestBodySize: 65536, headersTimeoutMs: 2500, requestTimeoutMs: 30_000 });
  });

  it('refuses values that are not positive numbers, and headers slower than the request', () => {
    for (const env of [
      { FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: '1.5' },
      { FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: '-1' },
      { DEVHOST_HEADERS_TIMEOUT: '0' },
      { DEVHOST_REQUEST_TIMEOUT: 'soon' },
      { DEVHOST_HEADERS_TIMEOUT: '20', DEVHOST_REQUEST_TIMEOUT: '10' },
    ])
      expect(() => httpLimits(env), JSON.stringify(env)).toThrow(StartupError);
  });
});
