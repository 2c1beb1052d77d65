// Partner Center's write guarantees: the same MS-RequestId on the same route answers the first result and
// writes nothing; If-Match must name the current ETag.
import type { IncomingMessage } from 'node:http';
import { pcError, sha } from './http.js';
import type { SandboxState } from './state.js';

type Result = { status: number; body: unknown };

/** The request key of a write: method, route and MS-RequestId; undefined without an id. */
export function requestKey(method: string, route: string, requestId: unknown): string | undefined {
  return typeof requestId === 'string' && requestId
    ? sha(`${method} ${route} ${requestId}`).slice(0, 40)
    : undefined;
}

/** Runs a write once per MS-RequestId (per route); a repeat answers the first result. */
export async function idempotent(
  state: SandboxState,
  req: IncomingMessage,
  route: string,
  write: () => Promise<Result>,
): Promise<Result> {
  const key = requestKey(req.method ?? 'GET', route, req.headers['ms-requestid']);
  if (key) {
    const seen = state.requests.get(key);
    if (seen) {
      state.stats.deduplicated++;
      return seen;
    }
  }
  const result = await write();
  if (key && result.status < 300) {
    state.requests.set(key, result);
    await state.table.upsertEntity(
      { partitionKey: 'req', rowKey: key, Json: JSON.stringify(result) },
      'Replace',
    );
  }
  return result;
}

/** 412 (code 2055) unless `If-Match` is absent, `*`, or the current ETag. */
export function ifMatch(req: IncomingMessage, etag: string | undefined): void {
  const want = req.headers['if-match'];
  if (typeof want === 'string' && want !== '*' && want !== etag)
    throw pcError(412, 2055, 'Etag is no longer valid');
}
