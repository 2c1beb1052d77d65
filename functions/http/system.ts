// Liveness and the OpenAPI document: the two routes that need no token.
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { openApiDocument } from '../../lib/api/openapi.js';
import { json } from '../../lib/http.js';

const HEALTH = { status: 'ok' } as const;

/** GET /api/health */
export function health(_req: HttpRequest, _ctx: InvocationContext): HttpResponseInit {
  return json(200, HEALTH);
}

/** GET /api/openapi.json */
export function openApi(_req: HttpRequest, _ctx: InvocationContext): HttpResponseInit {
  return json(200, openApiDocument());
}
