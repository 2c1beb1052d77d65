// The route table: each service lists its routes; the first whose method and path match answers.
import type { IncomingMessage } from 'node:http';
import { HttpFail, type Reply } from './http.js';

export interface RouteContext {
  req: IncomingMessage;
  url: URL;
  /** the decoded path */
  path: string;
  query: URLSearchParams;
  method: string;
  /** the path pattern's capture groups */
  params: string[];
}

export interface Route {
  method: string;
  /** an exact path, or a pattern whose groups become `params` */
  path: string | RegExp;
  handle(ctx: RouteContext): Promise<Reply> | Reply;
}

/** The reply of the first matching route; `notFound` (404 `not-found` by default) when none matches. */
export async function dispatch(
  routes: readonly Route[],
  req: IncomingMessage,
  url: URL,
  notFound?: () => Reply,
): Promise<Reply> {
  const method = req.method ?? 'GET';
  const path = decodeURIComponent(url.pathname);
  for (const r of routes) {
    if (r.method !== method) continue;
    let params: string[];
    if (typeof r.path === 'string') {
      if (r.path !== path) continue;
      params = [];
    } else {
      const m = r.path.exec(path);
      if (!m) continue;
      params = m.slice(1).map((p) => p ?? '');
    }
    return r.handle({ req, url, path, query: url.searchParams, method, params });
  }
  if (notFound) return notFound();
  throw new HttpFail(404, { code: 'not-found', description: `No sandbox route ${method} ${path}` });
}
