// The Durable HTTP API (HttpApiHandler of the extension) and the durableClient binding payload (§9).
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  HttpError,
  keyMatches,
  presentedKey,
  readBody,
  sendJson,
  type ExtensionHandler,
} from '../http/server.js';
import {
  DurableError,
  type DurableEngineApi,
  type InstanceFilter,
  type RuntimeStatus,
  TERMINAL_STATUSES,
} from './types.js';

const WEBHOOK_PREFIX = '/runtime/webhooks/durabletask/';
/**
 * The client's rpcBaseUrl: the same API for the app's own calls, served only by the internal listener
 * on 127.0.0.1 (no key, as the extension's LocalHttpListener), never on the public port.
 */
export const RPC_PREFIX = '/durabletask/';
const RUNNING: ReadonlySet<RuntimeStatus> = new Set([
  'Running',
  'Pending',
  'ContinuedAsNew',
  'Suspended',
]);
const STATUSES: RuntimeStatus[] = [
  'Pending',
  'Running',
  'Completed',
  'ContinuedAsNew',
  'Failed',
  'Canceled',
  'Terminated',
  'Suspended',
];

export interface ClientPayloadOptions {
  baseUrl: string;
  hubName: string;
  connectionName?: string;
  /** the key added as `code=` to the webhook URLs (only when keys are enforced): the system key */
  code?: string;
  /** where the internal listener answers, e.g. `http://127.0.0.1:30123` */
  rpcOrigin: string;
}

/** The durableClient binding value, as the extension's BindingHelper builds it (§9.1). */
export function clientPayload(o: ClientPayloadOptions): Record<string, unknown> {
  const webhooks = `${o.baseUrl}/runtime/webhooks/durabletask`;
  const code = o.code ? `&code=${encodeURIComponent(o.code)}` : '';
  const common = `taskHub=${o.hubName}&connection=${o.connectionName ?? 'Storage'}${code}`;
  const instance = `${webhooks}/instances/INSTANCEID`;
  return {
    taskHubName: o.hubName,
    creationUrls: {
      createNewInstancePostUri: `${webhooks}/orchestrators/{functionName}[/{instanceId}]${o.code ? `?code=${encodeURIComponent(o.code)}` : ''}`,
      createAndWaitOnNewInstancePostUri: `${webhooks}/orchestrators/{functionName}[/{instanceId}]?timeout={timeoutInSeconds}&pollingInterval={intervalInSeconds}${code}`,
    },
    managementUrls: managementUrls(instance, common, 'INSTANCEID'),
    baseUrl: webhooks,
    requiredQueryStringParameters: o.code ? `code=${encodeURIComponent(o.code)}` : '',
    rpcBaseUrl: `${o.rpcOrigin}${RPC_PREFIX}`,
  };
}

function managementUrls(instance: string, common: string, id: string): Record<string, string> {
  return {
    id,
    statusQueryGetUri: `${instance}?${common}`,
    sendEventPostUri: `${instance}/raiseEvent/{eventName}?${common}`,
    terminatePostUri: `${instance}/terminate?reason={text}&${common}`,
    rewindPostUri: `${instance}/rewind?reason={text}&${common}`,
    purgeHistoryDeleteUri: `${instance}?${common}`,
    restartPostUri: `${instance}/restart?${common}`,
    suspendPostUri: `${instance}/suspend?reason={text}&${common}`,
    resumePostUri: `${instance}/resume?reason={text}&${common}`,
  };
}

function bool(v: string | null, fallback: boolean): boolean {
  return v === null ? fallback : /^true$/i.test(v);
}

function date(v: string | null, name: string): Date | undefined {
  if (v === null || v === '') return undefined;
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) throw new DurableError(400, `${name} is not a date: "${v}".`);
  return d;
}

function filterFrom(q: URLSearchParams): InstanceFilter {
  const statuses = q.get('runtimeStatus');
  const runtimeStatus = statuses
    ? statuses.split(',').map((s) => {
        const found = STATUSES.find((x) => x.toLowerCase() === s.trim().toLowerCase());
        if (!found) throw new DurableError(400, `Unknown runtimeStatus "${s}".`);
        return found;
      })
    : undefined;
  const top = q.get('top');
  if (top !== null && !/^\d+$/.test(top))
    throw new DurableError(400, `top must be a whole number, not "${top}".`);
  const f: InstanceFilter = { showInput: bool(q.get('showInput'), true) };
  const from = date(q.get('createdTimeFrom'), 'createdTimeFrom');
  const to = date(q.get('createdTimeTo'), 'createdTimeTo');
  if (from) f.createdTimeFrom = from;
  if (to) f.createdTimeTo = to;
  if (runtimeStatus) f.runtimeStatus = runtimeStatus;
  if (q.get('instanceIdPrefix')) f.instanceIdPrefix = q.get('instanceIdPrefix')!;
  if (top !== null && Number(top) > 0) f.top = Number(top);
  return f;
}

/** The body as JSON (undefined when empty); invalid JSON is the extension's 400. */
async function jsonBody(req: IncomingMessage): Promise<unknown> {
  const body = await readBody(req, 16 * 1024 * 1024);
  if (body.length === 0) return undefined;
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    throw new DurableError(400, 'Invalid JSON content.');
  }
}

export interface DurableApiOptions {
  baseUrl: () => string;
  /** under --enable-auth: the master key and the extension's system key open the webhooks */
  keys: { master: string; durableTask: string } | undefined;
  /** true: the internal listener's `/durabletask/…` (no key); false: the public webhooks */
  internal: boolean;
}

/**
 * Serves the routes of HttpApiHandler: on the public port under `/runtime/webhooks/durabletask/…`
 * (the master or the `durabletask_extension` system key under --enable-auth, as on Azure), on the
 * internal listener under `/durabletask/…`.
 */
export function durableHttpApi(
  engine: DurableEngineApi,
  opts: DurableApiOptions,
): ExtensionHandler {
  const prefix = opts.internal ? RPC_PREFIX : WEBHOOK_PREFIX;
  return async (req, res, url) => {
    if (!url.pathname.toLowerCase().startsWith(prefix)) return false;
    const keys = opts.keys;
    if (
      !opts.internal &&
      keys &&
      !keyMatches(presentedKey(req, url), keys.master, keys.durableTask)
    ) {
      throw new HttpError(
        401,
        'unauthorized',
        'The Durable HTTP API needs the system key or the master key (x-functions-key or ?code=).',
      );
    }
    const hub = url.searchParams.get('taskHub');
    // One task hub per host: naming another is refused rather than silently served from this one.
    if (hub && hub.toLowerCase() !== engine.hubName.toLowerCase()) {
      sendJson(res, 400, {
        Message: `This host serves task hub '${engine.hubName}', not '${hub}'.`,
      });
      return true;
    }
    const parts = url.pathname
      .slice(prefix.length)
      .split('/')
      .map((p) => decodeURIComponent(p));
    try {
      await route(engine, opts, req, res, url, parts);
    } catch (e) {
      if (e instanceof DurableError) sendJson(res, e.status, { Message: e.message });
      else if (e instanceof HttpError) throw e;
      else
        sendJson(res, 500, {
          Message: 'Something went wrong while processing your request',
          ExceptionMessage: (e as Error).message,
        });
    }
    return true;
  };
}

function links(
  baseUrl: string,
  hubName: string,
  id: string,
  code: string | undefined,
): Record<string, string> {
  const instance = `${baseUrl}/runtime/webhooks/durabletask/instances/${encodeURIComponent(id)}`;
  const common = `taskHub=${hubName}&connection=Storage${code ? `&code=${encodeURIComponent(code)}` : ''}`;
  return managementUrls(instance, common, id);
}

async function route(
  engine: DurableEngineApi,
  opts: DurableApiOptions,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  parts: string[],
): Promise<void> {
  const method = req.method ?? 'GET';
  const q = url.searchParams;
  const [head, a, b, c] = parts;
  const notAllowed = (): void =>
    sendJson(res, 405, { Message: `${method} is not supported here.` });

  if (head === 'orchestrators' && a) {
    if (method !== 'POST') return notAllowed();
    const input = await jsonBody(req);
    const id = await engine.start(a, b || undefined, input);
    const mgmt = links(opts.baseUrl(), engine.hubName, id, opts.keys?.durableTask);
    const timeout = q.get('timeout');
    if (timeout && engine.waitFor) {
      const status = await engine.waitFor(id, TERMINAL_STATUSES, Number(timeout) * 1000);
      if (status && TERMINAL_STATUSES.has(status.runtimeStatus)) {
        sendJson(res, 200, status.runtimeStatus === 'Completed' ? status.output : status);
        return;
      }
    }
    sendJson(res, 202, mgmt, { location: mgmt.statusQueryGetUri!, 'retry-after': '10' });
    return;
  }

  if (head === 'instances') {
    const id = a ?? '';
    if (!id) {
      if (method === 'GET') {
        const token = req.headers['x-ms-continuation-token'];
        const filter = filterFrom(q);
        if (typeof token === 'string' && token) filter.continuationToken = token;
        const page = await engine.listInstances(filter);
        sendJson(
          res,
          200,
          page.items,
          page.continuationToken ? { 'x-ms-continuation-token': page.continuationToken } : {},
        );
        return;
      }
      if (method === 'DELETE') {
        const filter = filterFrom(q);
        if (!filter.createdTimeFrom)
          throw new DurableError(400, 'createdTimeFrom is required to purge by filter.');
        const deleted = await engine.purgeBy(filter);
        if (deleted === 0) sendJson(res, 404, { instancesDeleted: 0 });
        else sendJson(res, 200, { instancesDeleted: deleted });
        return;
      }
      return notAllowed();
    }
    if (b === undefined || b === '') {
      if (method === 'GET') {
        const status = await engine.getStatus(id, {
          showHistory: bool(q.get('showHistory'), false),
          showHistoryOutput: bool(q.get('showHistoryOutput'), false),
          showInput: bool(q.get('showInput'), true),
        });
        if (!status) {
          sendJson(res, 404, { Message: `No instance with ID '${id}' found.` });
          return;
        }
        if (RUNNING.has(status.runtimeStatus))
          sendJson(res, 202, status, { location: url.href, 'retry-after': '5' });
        else sendJson(res, 200, status);
        return;
      }
      if (method === 'DELETE') {
        if (await engine.purge(id)) sendJson(res, 200, { instancesDeleted: 1 });
        else sendJson(res, 404, { instancesDeleted: 0 });
        return;
      }
      return notAllowed();
    }
    if (method !== 'POST') return notAllowed();
    let result;
    if (b === 'raiseEvent' && c) {
      const type = req.headers['content-type'] ?? '';
      // The extension wants JSON; a body without a type is accepted as JSON too, and an empty body is
      // `null` data (the JS client sends no body for `raiseEvent(id, name)`).
      if (type && !/application\/json/i.test(type))
        throw new DurableError(400, 'Only application/json request content is supported.');
      const data = await jsonBody(req);
      result = await engine.raiseEvent(id, c, data === undefined ? null : data);
    } else {
      const reason = q.get('reason') ?? '';
      if (b === 'terminate') result = await engine.terminate(id, reason);
      else if (b === 'suspend') result = await engine.suspend(id, reason);
      else if (b === 'resume') result = await engine.resume(id, reason);
      else if (b === 'rewind') result = await engine.rewind(id, reason);
      else throw new DurableError(400, `Unknown operation "${b}".`);
    }
    if (result === 'not-found')
      sendJson(res, 404, { Message: `No instance with ID '${id}' found.` });
    else if (result === 'gone')
      sendJson(res, 410, { Message: `The instance '${id}' has already finished.` });
    else {
      res.writeHead(202, { 'content-length': 0 });
      res.end();
    }
    return;
  }

  if (head === 'entities' && a) {
    const key = b === '$' ? '' : (b ?? '');
    if (method === 'GET') {
      const entity = await engine.readEntity(a, key);
      if (!entity.exists)
        sendJson(res, 404, { Message: `No entity '@${a.toLowerCase()}@${key}' found.` });
      else sendJson(res, 200, entity.state);
      return;
    }
    if (method === 'POST' || method === 'DELETE') {
      let input: unknown;
      if (method === 'POST') {
        const type = req.headers['content-type'] ?? '';
        if (/application\/json/i.test(type)) input = await jsonBody(req);
        else {
          const raw = await readBody(req);
          input = raw.length ? raw.toString('utf8') : undefined;
        }
      }
      const op = method === 'DELETE' ? 'delete' : (q.get('op') ?? '');
      await engine.signalEntity(a, key, op, input);
      res.writeHead(202, { 'content-length': 0 });
      res.end();
      return;
    }
    return notAllowed();
  }
  sendJson(res, 404, { Message: `No Durable route ${method} ${url.pathname}.` });
}
