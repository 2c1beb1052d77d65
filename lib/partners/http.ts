// One resilient HTTP client for every partner service: timeouts, retries with backoff, Retry-After,
// a stable MS-RequestId per logical write, and a rate limiter per partner tenant (R-OPS-3).
import { randomUUID } from 'node:crypto';

/** A failure worth retrying (timeouts, 408, 409, 429, 5xx): the orchestration's retry policy may try again. */
export class TransientPartnerError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    /** how long the service asked us to wait, when that was longer than we wait in place */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'TransientPartnerError';
  }
}

/** A failure that retrying cannot fix (4xx other than 408/409/429). Carries the service's error body. */
export class PermanentPartnerError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly body: unknown,
  ) {
    super(message);
    this.name = 'PermanentPartnerError';
  }
}

export interface RetryPolicy {
  /** attempts in all, the first included */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  timeoutMs: number;
  /**
   * The longest Retry-After honoured in place. A service asking for more (a partner's 3600 s) gets no
   * waiting caller: the call fails at once as transient, carrying the wait, so that an HTTP request is
   * answered 503 and an activity is retried later by its orchestration.
   */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  maxAttempts: 6,
  baseDelayMs: 200,
  maxDelayMs: 10_000,
  timeoutMs: 10_000,
  maxRetryAfterMs: 10_000,
};

/** Full-jitter exponential backoff, never shorter than what Retry-After asked for. */
export function backoffDelay(
  attempt: number,
  policy: RetryPolicy,
  retryAfterMs: number | undefined,
  random = Math.random,
): number {
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  const jittered = Math.round(random() * exp);
  return retryAfterMs === undefined ? jittered : Math.max(retryAfterMs, jittered);
}

/** Retry-After as seconds or an HTTP date, in milliseconds from now. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Math.round(Number(value) * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * A token bucket per key (a partner tenant): `rate` requests per second with bursts of `burst`,
 * so that one large account cannot starve the others.
 */
export class RateLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number; queue: Promise<void> }>();

  constructor(
    private readonly rate: number,
    private readonly burst: number,
  ) {}

  /** Resolves when the key may make one more request. */
  take(key: string): Promise<void> {
    let b = this.#buckets.get(key);
    if (!b) {
      b = { tokens: this.burst, at: Date.now(), queue: Promise.resolve() };
      this.#buckets.set(key, b);
    }
    const bucket = b;
    const turn = bucket.queue.then(async () => {
      const now = Date.now();
      bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.rate);
      bucket.at = now;
      if (bucket.tokens < 1) {
        const waitMs = ((1 - bucket.tokens) / this.rate) * 1000;
        await new Promise((r) => setTimeout(r, waitMs));
        bucket.tokens = 1;
        bucket.at = Date.now();
      }
      bucket.tokens -= 1;
    });
    bucket.queue = turn;
    return turn;
  }
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  /** the logical operation's idempotency key; generated once and reused on every retry */
  requestId?: string;
  headers?: Record<string, string>;
  /** the partner tenant the call is made for (rate-limit key) */
  tenant?: string;
  /** statuses that are answers, not errors (e.g. 404 for "not found") */
  accept?: number[];
}

export interface PartnerResponse<T> {
  status: number;
  body: T;
  headers: Headers;
}

export interface HttpClientOptions {
  baseUrl: string;
  retry?: Partial<RetryPolicy>;
  limiter?: RateLimiter;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  /** a line per retry, without bodies (they may hold secrets) */
  log?: (line: string) => void;
}

/** JSON over HTTP with the retry rules above. */
export class PartnerHttpClient {
  readonly #policy: RetryPolicy;
  readonly #fetch: typeof fetch;
  readonly #sleep: (ms: number) => Promise<void>;

  constructor(private readonly opts: HttpClientOptions) {
    this.#policy = { ...DEFAULT_RETRY, ...opts.retry };
    this.#fetch = opts.fetch ?? fetch;
    this.#sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  async request<T>(path: string, o: RequestOptions = {}): Promise<PartnerResponse<T>> {
    const method = o.method ?? 'GET';
    const url = new URL(
      path.replace(/^\//, ''),
      this.opts.baseUrl.endsWith('/') ? this.opts.baseUrl : this.opts.baseUrl + '/',
    );
    // The same MS-RequestId on every attempt makes a retried write idempotent on the service side.
    const requestId = o.requestId ?? randomUUID();
    let lastError: Error = new TransientPartnerError(`${method} ${url.pathname}: no attempt made`);
    for (let attempt = 1; attempt <= this.#policy.maxAttempts; attempt++) {
      if (this.opts.limiter && o.tenant) await this.opts.limiter.take(o.tenant);
      let res: Response;
      try {
        res = await this.#fetch(url, {
          method,
          headers: {
            accept: 'application/json',
            'ms-requestid': requestId,
            'ms-correlationid': randomUUID(),
            ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}),
            ...o.headers,
          },
          ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}),
          signal: AbortSignal.timeout(this.#policy.timeoutMs),
        });
      } catch (e) {
        lastError = new TransientPartnerError(`${method} ${url.pathname}: ${(e as Error).message}`);
        if (attempt < this.#policy.maxAttempts)
          await this.#wait(attempt, undefined, lastError.message);
        continue;
      }
      const text = await res.text();
      let body: unknown = undefined;
      if (text) {
        try {
          body = JSON.parse(text) as unknown;
        } catch {
          body = text;
        }
      }
      if (res.ok || o.accept?.includes(res.status))
        return { status: res.status, body: body as T, headers: res.headers };
      // 409 is a conflict with a concurrent operation on the service's side: it clears, so it is retried.
      const transient = [408, 409, 429].includes(res.status) || res.status >= 500;
      const summary = `${method} ${url.pathname} answered ${res.status}`;
      if (!transient) throw new PermanentPartnerError(summary, res.status, body);
      const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'));
      if (retryAfterMs !== undefined && retryAfterMs > this.#policy.maxRetryAfterMs)
        throw new TransientPartnerError(
          `${summary} (retry after ${Math.ceil(retryAfterMs / 1000)} s)`,
          res.status,
          retryAfterMs,
        );
      lastError = new TransientPartnerError(summary, res.status);
      if (attempt < this.#policy.maxAttempts) await this.#wait(attempt, retryAfterMs, summary);
    }
    throw lastError;
  }

  async #wait(attempt: number, retryAfterMs: number | undefined, why: string): Promise<void> {
    const ms = backoffDelay(attempt, this.#policy, retryAfterMs);
    this.opts.log?.(`${why}; retry ${attempt} in ${ms} ms`);
    await this.#sleep(ms);
  }
}
