// Liveness, the OpenAPI document, and the answer for every request no route takes: no token needed.
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { openApiDocument } from '../../lib/api/openapi.js';
import { AppError, NotFoundError } from '../../lib/errors.js';
import { json, toHttpResponse } from '../../lib/http.js';

const HEALTH = { status: 'ok' } as const;

/** GET /api/health */
export function health(_req: HttpRequest, _ctx: InvocationContext): HttpResponseInit {
  return json(200, HEALTH);
}

/** GET /api/openapi.json */
export function openApi(_req: HttpRequest, _ctx: InvocationContext): HttpResponseInit {
  return json(200, openApiDocument());
}

/** The documented routes as (method, path pattern) pairs, from the OpenAPI document. */
let routes: { methods: string[]; pattern: RegExp }[] | undefined;
function documentedRoutes(): { methods: string[]; pattern: RegExp }[] {
  routes ??= Object.entries(openApiDocument().paths ?? {}).map(([path, item]) => ({
    methods: Object.keys(item ?? {})
      .filter((k) => ['get', 'post', 'put', 'patch', 'delete'].includes(k))
      .map((k) => k.toUpperCase()),
    pattern: new RegExp(
      `^${path
        .split(/\{[^}]+\}/)
        .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
        .join('[^/]+')}/?$`,
    ),
  }));
  return routes;
}

class MethodNotAllowedError extends AppError {
  constructor(method: string, path: string) {
    super(405, 'method-not-allowed', `${path} does not answer ${method}; see /api/openapi.json.`);
  }
}

/**
 * Every request under /api that no other function takes (registered last: routes are tried in
 * function-name order). Answers in the contract's error envelope: 405 with `Allow` when the path is
 * a route of the API, 404 otherwise.
 */
export function unmatchedRoute(req: HttpRequest, _ctx: InvocationContext): HttpResponseInit {
  const path = new URL(req.url).pathname;
  const route = documentedRoutes().find((r) => r.pattern.test(path));
  if (route) {
    const res = toHttpResponse(new MethodNotAllowedError(req.method, path));
    return {
      ...res,
      headers: { ...(res.headers as Record<string, string>), allow: route.methods.join(', ') },
    };
  }
  return toHttpResponse(
    new NotFoundError(
      'not-found',
      `There is no route ${req.method} ${path}; see /api/openapi.json.`,
    ),
  );
}
