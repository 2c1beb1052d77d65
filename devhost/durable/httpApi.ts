// The Durable HTTP API (HttpApiHandler of the extension) and the durableClient binding payload (§9).
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  keyMatches,
  presentedKey,
  readBody,
  sendJson,
  type ExtensionHandler,
} from '../http/server.js';
import {
  type DurableEngineApi,
  type InstanceFilter,
  type RuntimeStatus,
  TERMINAL_STATUSES,
} from './types.js';
import { DurableError, HttpError } from '../errors.js';

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

interface Call {
  engine: DurableEngineApi;
  opts: DurableApiOptions;
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  method: string;
}

function notAllowed({ res, method }: Call): void {
  sendJson(res, 405, { Message: `${method} is not supported here.` });
}

async function route(
  engine: DurableEngineApi,
  opts: DurableApiOptions,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  parts: string[],
): Promise<void> {
  const call: Call = { engine, opts, req, res, url, method: req.method ?? 'GET' };
  const [head, a, b, c] = parts;
  if (head === 'orchestrators' && a) return startOrchestration(call, a, b);
  if (head === 'instances' && !a) return instancesRoute(call);
  if (head === 'instances' && (b === undefined || b === '')) return instanceRoute(call, a!);
  if (head === 'instances') return instanceOperation(call, a!, b!, c);
  if (head === 'entities' && a) return entityRoute(call, a, b === '$' ? '' : (b ?? ''));
  sendJson(res, 404, { Message: `No Durable route ${call.method} ${url.pathname}.` });
}

async function startOrchestration(call: Call, name: string, id: string | undefined): Promise<void> {
  const { engine, opts, req, res, url } = call;
  if (call.method !== 'POST') return notAllowed(call);
  const input = await jsonBody(req);
  const instanceId = await engine.start(name, id || undefined, input);
  const mgmt = links(opts.baseUrl(), engine.hubName, instanceId, opts.keys?.durableTask);
  const timeout = url.searchParams.get('timeout');
  if (timeout && engine.waitFor) {
    const status = await engine.waitFor(instanceId, TERMINAL_STATUSES, Number(timeout) * 1000);
    if (status && TERMINAL_STATUSES.has(status.runtimeStatus)) {
      sendJson(res, 200, status.runtimeStatus === 'Completed' ? status.output : status);
      return;
    }
  }
  sendJson(res, 202, mgmt, { location: mgmt.statusQueryGetUri!, 'retry-after': '10' });
}

/** `instances`: list (GET) or purge by filter (DELETE). */
async function instancesRoute(call: Call): Promise<void> {
  const { engine, req, res, url } = call;
  const filter = filterFrom(url.searchParams);
  if (call.method === 'GET') {
    const token = req.headers['x-ms-continuation-token'];
    if (typeof token === 'string' && token) filter.continuationToken = token;
    const page = await engine.listInstances(filter);
    const headers: Record<string, string> = page.continuationToken
      ? { 'x-ms-continuation-token': page.continuationToken }
      : {};
    sendJson(res, 200, page.items, headers);
    return;
  }
  if (call.method !== 'DELETE') return notAllowed(call);
  if (!filter.createdTimeFrom)
    throw new DurableError(400, 'createdTimeFrom is required to purge by filter.');
  const deleted = await engine.purgeBy(filter);
  if (deleted === 0) sendJson(res, 404, { instancesDeleted: 0 });
  else sendJson(res, 200, { instancesDeleted: deleted });
}

/** `instances/{id}`: status (GET) or purge (DELETE). */
async function instanceRoute(call: Call, id: string): Promise<void> {
  const { engine, res, url } = call;
  const q = url.searchParams;
  if (call.method === 'GET') {
    const status = await engine.getStatus(id, {
      showHistory: bool(q.get('showHistory'), false),
      showHistoryOutput: bool(q.get('showHistoryOutput'), false),
      showInput: bool(q.get('showInput'), true),
    });
    if (!status) sendJson(res, 404, { Message: `No instance with ID '${id}' found.` });
    else if (RUNNING.has(status.runtimeStatus))
      sendJson(res, 202, status, { location: url.href, 'retry-after': '5' });
    else sendJson(res, 200, status);
    return;
  }
  if (call.method !== 'DELETE') return notAllowed(call);
  if (await engine.purge(id)) sendJson(res, 200, { instancesDeleted: 1 });
  else sendJson(res, 404, { instancesDeleted: 0 });
}

/** `instances/{id}/raiseEvent/{name}`, `/terminate`, `/suspend`, `/resume`, `/rewind`. */
async function instanceOperation(
  call: Call,
  id: string,
  operation: string,
  eventName: string | undefined,
): Promise<void> {
  const { engine, req, res, url } = call;
  if (call.method !== 'POST') return notAllowed(call);
  let result;
  if (operation === 'raiseEvent' && eventName) {
    const type = req.headers['content-type'] ?? '';
    // The extension wants JSON; a body without a type is accepted as JSON too, and an empty body is
    // `null` data (the JS client sends no body for `raiseEvent(id, name)`).
    if (type && !/application\/json/i.test(type))
      throw new DurableError(400, 'Only application/json request content is supported.');
    const data = await jsonBody(req);
    result = await engine.raiseEvent(id, eventName, data === undefined ? null : data);
  } else {
    const reason = url.searchParams.get('reason') ?? '';
    if (operation === 'terminate') result = await engine.terminate(id, reason);
    else if (operation === 'suspend') result = await engine.suspend(id, reason);
    else if (operation === 'resume') result = await engine.resume(id, reason);
    else if (operation === 'rewind') result = await engine.rewind(id, reason);
    else throw new DurableError(400, `Unknown operation "${operation}".`);
  }
  if (result === 'not-found') sendJson(res, 404, { Message: `No instance with ID '${id}' found.` });
  else if (result === 'gone')
    sendJson(res, 410, { Message: `The instance '${id}' has already finished.` });
  else {
    res.writeHead(202, { 'content-length': 0 });
    res.end();
  }
}

/** `entities/{name}/{key}`: read (GET), signal (POST) or delete (DELETE). */
async function entityRoute(call: Call, name: string, key: string): Promise<void> {
  const { engine, req, res, url, method } = call;
  if (method === 'GET') {
    const entity = await engine.readEntity(name, key);
    if (!entity.exists)
      sendJson(res, 404, { Message: `No entity '@${name.toLowerCase()}@${key}' found.` });
    else sendJson(res, 200, entity.state);
    return;
  }
  if (method !== 'POST' && method !== 'DELETE') return notAllowed(call);
  let input: unknown;
  if (method === 'POST') {
    const type = req.headers['content-type'] ?? '';
    if (/application\/json/i.test(type)) input = await jsonBody(req);
    else {
      const raw = await readBody(req);
      input = raw.length ? raw.toString('utf8') : undefined;
    }
  }
  const op = method === 'DELETE' ? 'delete' : (url.searchParams.get('op') ?? '');
  await engine.signalEntity(name, key, op, input);
  res.writeHead(202, { 'content-length': 0 });
  res.end();
}
