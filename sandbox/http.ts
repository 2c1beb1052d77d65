// The sandbox's HTTP vocabulary: a reply, the one error type that knows its reply, JSON bodies, canonical
// JSON and its hashes, and the page shape every listing uses.
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export type Json = Record<string, unknown>;

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** Thrown anywhere in a route: the server answers with its reply. */
export class HttpFail extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(`HTTP ${status}`);
  }

  reply(): Reply {
    return { status: this.status, body: this.body, headers: this.headers };
  }
}

/** Partner Center's error envelope. */
export function pcError(status: number, code: number | string, description: string): HttpFail {
  return new HttpFail(status, { code, description, data: [], source: 'PartnerFD' });
}

/** The sandbox's own 4xx for CPP and its controls: `{code, description}`. */
export function fail(status: number, code: string, description: string): HttpFail {
  return new HttpFail(status, { code, description });
}

/** Reads a JSON body; empty is undefined, anything else unparsable is Partner Center's 400. */
export async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req as AsyncIterable<Buffer>) chunks.push(c);
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text.trim()) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw pcError(400, 800002, 'The request body is not valid JSON.');
  }
}

/** Writes a reply as JSON, in one write. */
export function send(res: ServerResponse, r: Reply): void {
  const text = r.body === undefined ? '' : JSON.stringify(r.body);
  res.writeHead(r.status, {
    ...(text ? { 'content-type': 'application/json; charset=utf-8' } : {}),
    'content-length': Buffer.byteLength(text),
    ...r.headers,
  });
  res.end(text);
}

/** Canonical JSON (keys sorted at every level): the form the summary hashes are taken over. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.entries(v as Json)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`)
      .join(',')}}`;
  }
  // A missing document hashes as null (the summary of a half-copied account must not fail).
  return JSON.stringify(v) ?? 'null';
}

export const sha = (s: string): string => createHash('sha256').update(s).digest('hex');
export const etagOf = (v: unknown): string => `W/"${sha(canonical(v)).slice(0, 16)}"`;

/** `top` (1–1000, default 1000) items from an opaque continuation token. */
export function page<T>(
  items: T[],
  q: URLSearchParams,
): { items: T[]; continuationToken?: string } {
  const top = Math.min(Math.max(Number(q.get('top') ?? 1000) || 1000, 1), 1000);
  const start =
    Number(Buffer.from(q.get('continuationToken') ?? '', 'base64url').toString() || 0) || 0;
  const slice = items.slice(start, start + top);
  const next =
    start + top < items.length ? Buffer.from(String(start + top)).toString('base64url') : undefined;
  return next ? { items: slice, continuationToken: next } : { items: slice };
}
