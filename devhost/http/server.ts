// The host's HTTP front: admin and extension routes first, then the app's HTTP triggers.
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Invoker } from '../invoke.js';
import type { HostLogger } from '../logger.js';
import type { RpcHttpCookie, RpcHttpData, RpcTypedData } from '../rpcTypes.js';
import type { HttpRoute, Router } from './router.js';
import { HttpError } from '../errors.js';

/**
 * Requests larger than this are refused with 413: the real host's default (104,857,600 bytes), which
 * `FUNCTIONS_REQUEST_BODY_SIZE_LIMIT` changes there and here.
 */
export const MAX_REQUEST_BODY = 100 * 1024 * 1024;

/** How much a client may send and how slowly (see HttpLimits in settings.ts for the defaults). */
export interface HttpLimits {
  /** bytes; a larger body is refused with 413 while it is read, before anything sees it */
  maxRequestBodySize: number;
  /** the request line and headers must arrive within this (slowloris) */
  headersTimeoutMs: number;
  /** the whole request, body included, must arrive within this */
  requestTimeoutMs: number;
}

/** Routes the host serves itself rather than the app. */
const HOST_ROUTES = /^\/(admin|runtime\/webhooks)(\/|$)/i;

/** Names of this machine's loopback interface, as a browser would put them in Host. */
const LOCAL_NAME = /^(localhost|(.+\.)?localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

/** Host header: a DNS name or IPv4 address, or a bracketed IPv6 address, then an optional port. */
const HOST_HEADER = /^(?:[a-z0-9_~-]+(?:\.[a-z0-9_~-]+)*\.?|\[[0-9a-f:.]+\])(?::(\d{1,5}))?$/i;

/** A host-owned route (admin API, Durable webhooks): returns false when the path is not its own. */
export type ExtensionHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
) => Promise<boolean>;

export interface AuthKeys {
  master: string;
  /** function-level keys accepted by every function (the host's default key) */
  function: string;
  /**
   * The Durable extension's system key, named `durabletask_extension` as the real host names an
   * extension's webhook key (`<extension>_extension`); it opens `/runtime/webhooks/durabletask/…` only.
   */
  durableTask: string;
}

/** Compares a presented key with the expected ones in constant time (per key). */
export function keyMatches(presented: string | undefined, ...expected: string[]): boolean {
  if (presented === undefined) return false;
  const digest = (s: string): Buffer => createHash('sha256').update(s).digest();
  const got = digest(presented);
  let ok = false;
  for (const key of expected) ok = timingSafeEqual(got, digest(key)) || ok;
  return ok;
}

export interface HttpServerOptions {
  router: Router;
  invoker: Invoker;
  logger: HostLogger;
  customHeaders: Record<string, string>;
  maxConcurrentRequests: number | undefined;
  cors: string | undefined;
  /** set under --enable-auth: keys are then checked as the real host does */
  keys: AuthKeys | undefined;
  extensions: ExtensionHandler[];
  limits: HttpLimits;
}

/** The body limit of the server a request came to (set by the server), else the real host's default. */
const bodyLimits = new WeakMap<IncomingMessage, number>();

/** Caps every body read from `req` at `limit` bytes (for servers other than HttpFront). */
export function limitBody(req: IncomingMessage, limit: number): void {
  bodyLimits.set(req, limit);
}

/**
 * Reads a request body of at most `limit` bytes (never more than the server's own limit). A body that
 * declares or turns out to be larger is refused with 413 at once: reading stops (the rest is never
 * read), and the 413 closes the connection.
 */
export function readBody(req: IncomingMessage, limit = MAX_REQUEST_BODY): Promise<Buffer> {
  const max = Math.min(limit, bodyLimits.get(req) ?? MAX_REQUEST_BODY);
  const tooLarge = (): HttpError =>
    new HttpError(413, 'payload-too-large', `The request body exceeds ${max} bytes.`);
  if (Number(req.headers['content-length'] ?? 0) > max) return Promise.reject(tooLarge());
  if (req.readableEnded) return Promise.resolve(Buffer.alloc(0));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onClose);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > max) {
        stop();
        req.pause();
        chunks.length = 0;
        reject(tooLarge());
      } else chunks.push(chunk);
    };
    const onEnd = (): void => {
      stop();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onClose = (): void => {
      stop();
      reject(new HttpError(400, 'aborted', 'The client went away before sending the whole body.'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onClose);
    req.on('close', onClose);
  });
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** How long a connection refused with 413 stays half-open, so that the client reads the reply. */
const LINGER_MS = 2000;

/**
 * After a 413 the rest of the body stays unread: the reply says `Connection: close`, the host sends its
 * FIN once the reply is out and stops reading, and drops the connection after LINGER_MS. Dropping it at
 * once (Node's default) resets it while the client is still sending, and the client may lose the reply.
 */
function leaveBodyUnread(req: IncomingMessage): void {
  // Marks the body as being consumed, so that Node does not read and discard the rest after the reply.
  req.pause();
  req.read(0);
  const socket = req.socket;
  Object.assign(socket, {
    destroySoon(): void {
      socket.end();
      setTimeout(() => socket.destroy(), LINGER_MS).unref();
    },
  });
}

export function sendError(res: ServerResponse, err: HttpError): void {
  const close: Record<string, string> = {};
  if (err.status === 413) {
    close.connection = 'close';
    leaveBodyUnread(res.req);
  }
  sendJson(res, err.status, { error: { code: err.code, message: err.message } }, close);
}

/** Reads a JSON request body for the host's own APIs (empty body = `{}`). */
export async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const body = await readBody(req, 1024 * 1024);
  if (body.length === 0) return {};
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    throw new HttpError(400, 'invalid-json', 'The request body is not valid JSON.');
  }
}

/** The key a request presents: `x-functions-key` header first, else the `code` query parameter. */
export function presentedKey(req: IncomingMessage, url: URL): string | undefined {
  const header = req.headers['x-functions-key'];
  return (Array.isArray(header) ? header[0] : header) ?? url.searchParams.get('code') ?? undefined;
}

/**
 * The request's absolute URL from its Host header and origin-form target. A malformed Host (or one
 * missing from HTTP/1.1), or a target that is not a path, is 400: neither may reach a handler.
 */
export function requestUrl(req: IncomingMessage): URL {
  const bad = (what: string): HttpError => new HttpError(400, 'bad-request', what);
  const host = req.headers.host ?? (req.httpVersion === '1.0' ? 'localhost' : '');
  const port = HOST_HEADER.exec(host)?.[1];
  if (!HOST_HEADER.test(host) || (port !== undefined && Number(port) > 65535))
    throw bad('The Host header is missing or malformed.');
  const target = req.url ?? '';
  if (!target.startsWith('/')) throw bad('The request target must be a path.');
  try {
    return new URL(`http://${host}${target}`);
  } catch {
    throw bad('The request target is malformed.');
  }
}

function joinHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

/** RPC sameSite values to the header's; 'none' means unspecified, so it writes nothing. */
const SAME_SITE: Record<string, string | undefined> = {
  lax: 'Lax',
  strict: 'Strict',
  explicitNone: 'None',
};

function cookieHeader(c: RpcHttpCookie): string {
  let s = `${c.name}=${c.value}`;
  if (c.domain?.value) s += `; Domain=${c.domain.value}`;
  if (c.path?.value) s += `; Path=${c.path.value}`;
  if (c.expires?.value?.seconds !== undefined) {
    s += `; Expires=${new Date(c.expires.value.seconds * 1000).toUTCString()}`;
  }
  if (c.maxAge?.value !== undefined) s += `; Max-Age=${c.maxAge.value}`;
  if (c.secure?.value) s += '; Secure';
  if (c.httpOnly?.value) s += '; HttpOnly';
  const sameSite = c.sameSite ? SAME_SITE[c.sameSite] : undefined;
  if (sameSite) s += `; SameSite=${sameSite}`;
  return s;
}

function bodyBytes(body: RpcTypedData | undefined): Buffer | undefined {
  if (!body) return undefined;
  if (body.bytes)
    return Buffer.from(body.bytes.buffer, body.bytes.byteOffset, body.bytes.byteLength);
  if (body.string !== undefined) return Buffer.from(body.string);
  if (body.json !== undefined) return Buffer.from(body.json);
  if (body.int !== undefined) return Buffer.from(String(body.int));
  if (body.double !== undefined) return Buffer.from(String(body.double));
  return undefined;
}

export class HttpFront {
  readonly server: Server;
  #inFlight = 0;
  #open!: () => void;
  /** Requests wait until the host has finished starting (extensions registered). */
  readonly #ready = new Promise<void>((resolve) => (this.#open = resolve));
  /** set once listening: true when only this machine can connect (then Host must name it too) */
  loopbackOnly = true;

  constructor(private readonly opts: HttpServerOptions) {
    const { headersTimeoutMs, requestTimeoutMs } = opts.limits;
    this.server = createServer(
      {
        keepAliveTimeout: 65_000,
        headersTimeout: headersTimeoutMs,
        requestTimeout: requestTimeoutMs,
        // Node checks the two timeouts above only this often (default 30 s).
        connectionsCheckingInterval: Math.min(1000, headersTimeoutMs),
      },
      (req, res) => {
        limitBody(req, opts.limits.maxRequestBodySize);
        this.#handle(req, res).catch((e: unknown) => {
          if (e instanceof HttpError) return this.#safe(res, () => sendError(res, e));
          this.opts.logger.error(
            'Host.General',
            `Unhandled error serving ${req.method} ${req.url}: ${String(e)}`,
          );
          this.#safe(res, () =>
            sendJson(res, 500, { error: { code: 'internal', message: 'Internal host error.' } }),
          );
        });
      },
    );
  }

  #safe(res: ServerResponse, write: () => void): void {
    if (res.headersSent) res.destroy();
    else write();
  }

  /** Lets requests through once start-up is complete. */
  open(): void {
    this.#open();
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    await this.#ready;
    const { customHeaders, cors } = this.opts;
    for (const [k, v] of Object.entries(customHeaders)) res.setHeader(k, v);
    const url = requestUrl(req);
    if (cors) this.#cors(req, res, cors);
    if (cors && req.method === 'OPTIONS' && req.headers['access-control-request-method']) {
      res.writeHead(204).end();
      return;
    }
    if (HOST_ROUTES.test(url.pathname)) this.#refuseWebPages(req, url);
    for (const ext of this.opts.extensions) if (await ext(req, res, url)) return;

    const path = url.pathname.replace(/^\/+/, '');
    const hit = this.opts.router.match(req.method ?? 'GET', path);
    if (!hit) {
      res.writeHead(404, { 'content-length': 0 }).end();
      return;
    }
    if (!this.#authorized(hit.route, req, url)) {
      res.writeHead(401, { 'content-length': 0 }).end();
      return;
    }
    const max = this.opts.maxConcurrentRequests;
    if (max !== undefined && this.#inFlight >= max) {
      res.writeHead(429, { 'content-length': 0 }).end();
      return;
    }
    this.#inFlight++;
    try {
      await this.#invoke(hit.route, hit.params, req, res, url);
    } finally {
      this.#inFlight--;
    }
  }

  /**
   * The host's own routes (admin, Durable webhooks) take no key without --enable-auth, so a web page
   * must not drive them through the browser: a request from another origin (a form or fetch POST
   * carries `Origin`) is refused unless CORS allows that origin, and on loopback a Host that does not
   * name this machine (DNS rebinding) is refused.
   */
  #refuseWebPages(req: IncomingMessage, url: URL): void {
    const origin = req.headers.origin;
    const allowed = (this.opts.cors ?? '').split(',').map((o) => o.trim());
    if (origin && origin !== url.origin && !allowed.includes('*') && !allowed.includes(origin))
      throw new HttpError(403, 'cross-origin', 'The host routes do not answer other web pages.');
    if (this.loopbackOnly && !LOCAL_NAME.test(url.hostname))
      throw new HttpError(403, 'host-not-local', 'The host routes answer only local host names.');
  }

  #cors(req: IncomingMessage, res: ServerResponse, cors: string): void {
    const origin = req.headers.origin;
    if (!origin) return;
    const allowed = cors.split(',').map((s) => s.trim());
    if (allowed.includes('*')) res.setHeader('access-control-allow-origin', '*');
    else if (allowed.includes(origin)) {
      res.setHeader('access-control-allow-origin', origin);
      res.setHeader('vary', 'Origin');
    } else return;
    if (req.method === 'OPTIONS') {
      res.setHeader(
        'access-control-allow-methods',
        req.headers['access-control-request-method'] ?? '*',
      );
      const h = req.headers['access-control-request-headers'];
      if (h) res.setHeader('access-control-allow-headers', h);
    }
  }

  #authorized(route: HttpRoute, req: IncomingMessage, url: URL): boolean {
    const keys = this.opts.keys;
    if (!keys || route.authLevel === 'anonymous') return true;
    const key = presentedKey(req, url);
    if (keyMatches(key, keys.master)) return true;
    return route.authLevel === 'function' && keyMatches(key, keys.function);
  }

  async #invoke(
    route: HttpRoute,
    params: Record<string, string>,
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
  ): Promise<void> {
    const body = await readBody(req, this.opts.limits.maxRequestBodySize);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      const value = joinHeader(v);
      if (value !== undefined && value !== '') headers[k] = value;
    }
    const query: Record<string, string> = {};
    for (const key of new Set(url.searchParams.keys()))
      query[key] = url.searchParams.getAll(key).join(',');
    const http: RpcHttpData = {
      method: req.method ?? 'GET',
      url: url.href,
      headers,
      query,
      params,
      // The real host sends a body only when there is one (Content-Length > 0).
      ...(body.length > 0 ? { body: { bytes: body } } : {}),
    };
    const outcome = await this.opts.invoker.invoke(
      route.fn,
      { inputData: [{ name: route.triggerName, data: { http } }] },
      'This function was programmatically called via the host APIs.',
    );
    if (!outcome.ok) {
      res.writeHead(500, { 'content-length': 0 }).end();
      return;
    }
    const out = route.output;
    let data: RpcTypedData | null | undefined;
    if (out?.isReturn) data = outcome.response.returnValue;
    else if (out) data = outcome.response.outputData?.find((o) => o.name === out.name)?.data;
    const rpc = data?.http;
    if (!rpc) {
      // A handler that returns nothing: ASP.NET answers an empty result with 204.
      res.writeHead(204).end();
      return;
    }
    const status = Number(rpc.statusCode ?? 200) || 200;
    for (const [k, v] of Object.entries(rpc.headers ?? {})) res.setHeader(k, v);
    if (rpc.cookies?.length) res.setHeader('set-cookie', rpc.cookies.map(cookieHeader));
    const bytes = status === 204 || status === 304 ? undefined : bodyBytes(rpc.body);
    res.setHeader('content-length', bytes?.length ?? 0);
    res.writeHead(status);
    // A small body goes as a latin1 string (byte for byte the same), so Node sends headers and body in
    // one write instead of a writev of two buffers: measurably cheaper per request.
    if (bytes && bytes.length <= 16 * 1024) res.end(bytes.toString('latin1'), 'latin1');
    else res.end(bytes);
  }
}
