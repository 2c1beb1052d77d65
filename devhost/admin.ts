// The host's own routes: run a non-HTTP function now, and the virtual clock.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { parseIsoDuration, type Clock, VirtualClock } from './clock.js';
import type { RegisteredFunction } from './core.js';
import { triggerOf } from './http/router.js';
import {
  keyMatches,
  presentedKey,
  readJsonBody,
  sendJson,
  type AuthKeys,
  type ExtensionHandler,
} from './http/server.js';
import type { AdminInvoker } from './extension.js';
import type { Invoker } from './invoke.js';
import type { TimerService } from './timers/service.js';
import { HttpError } from './errors.js';

/** Triggers that the host itself drives and that cannot be started from the admin API. */
const NOT_INVOCABLE = new Set([
  'httptrigger',
  'orchestrationtrigger',
  'activitytrigger',
  'entitytrigger',
]);

const invokeBody = z.object({ input: z.unknown().optional() });
const clockBody = z.union([
  z.strictObject({ advanceBy: z.string() }),
  z.strictObject({ set: z.iso.datetime({ offset: true }) }),
]);

export interface AdminDeps {
  functions: Map<string, RegisteredFunction>;
  invoker: Invoker;
  timers: TimerService;
  clock: Clock;
  keys: AuthKeys | undefined;
  /** extension-provided ways to run a trigger type (e.g. a queue message with its metadata) */
  adminInvokers: ReadonlyMap<string, AdminInvoker>;
}

function clockState(clock: Clock): Record<string, unknown> {
  return {
    now: clock.now().toISOString(),
    virtual: clock.virtual,
    ...(clock instanceof VirtualClock
      ? { pending: clock.pendingDue().map((d) => d.toISOString()) }
      : {}),
  };
}

/** `POST /admin/functions/{name}`: runs a non-HTTP function now (202), as the real host does. */
async function runFunction(
  deps: AdminDeps,
  byName: Map<string, RegisteredFunction>,
  name: string,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  if (req.method !== 'POST')
    throw new HttpError(405, 'method-not-allowed', 'Use POST to run a function.');
  const fn = byName.get(name.toLowerCase());
  if (!fn) throw new HttpError(404, 'function-not-found', `No function named "${name}".`);
  const trigger = triggerOf(fn);
  const type = trigger?.[1].type?.toLowerCase() ?? '';
  if (!trigger || NOT_INVOCABLE.has(type)) {
    throw new HttpError(
      400,
      'not-invocable',
      `Function "${fn.metadata.name}" has a ${trigger?.[1].type ?? 'missing'} trigger and cannot be run from the admin API.`,
    );
  }
  const parsed = invokeBody.safeParse(await readJsonBody(req));
  if (!parsed.success)
    throw new HttpError(400, 'invalid-request', 'Expected a body like {"input": "..."}.');
  const input = parsed.data.input;
  const text = typeof input === 'string' ? input : JSON.stringify(input ?? '');
  const custom = deps.adminInvokers.get(type);
  if (type === 'timertrigger') {
    void deps.timers.invokeNow(fn.metadata.name);
  } else if (custom) {
    custom(fn, text);
  } else {
    void deps.invoker.invoke(
      fn,
      {
        inputData: [
          {
            name: trigger[0],
            data: { string: text },
          },
        ],
      },
      'This function was programmatically called via the host APIs.',
    );
  }
  res.writeHead(202, { 'content-length': 0 }).end();
}

/** `GET|POST /admin/devhost/clock`: tells the time, or moves a virtual clock (firing what became due). */
async function clockRoute(
  deps: AdminDeps,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  if (req.method === 'GET') {
    sendJson(res, 200, clockState(deps.clock));
    return;
  }
  if (req.method !== 'POST') throw new HttpError(405, 'method-not-allowed', 'Use GET or POST.');
  const clock = deps.clock;
  if (!(clock instanceof VirtualClock)) {
    throw new HttpError(
      409,
      'clock-not-virtual',
      'Start the host with --virtual-clock to move its time.',
    );
  }
  const parsed = clockBody.safeParse(await readJsonBody(req));
  if (!parsed.success) {
    throw new HttpError(
      400,
      'invalid-request',
      'Expected {"advanceBy": "P7D"} or {"set": "2019-10-01T00:00:00Z"}.',
    );
  }
  let fired: number;
  if ('advanceBy' in parsed.data) {
    const ms = parseIsoDuration(parsed.data.advanceBy);
    if (ms === undefined || ms < 0) {
      throw new HttpError(
        400,
        'invalid-request',
        `"${parsed.data.advanceBy}" is not a forward ISO 8601 duration such as "P7D" or "PT1H".`,
      );
    }
    fired = clock.advance(ms);
  } else {
    fired = clock.set(new Date(parsed.data.set));
  }
  sendJson(res, 200, { ...clockState(clock), fired });
}

export function adminRoutes(deps: AdminDeps): ExtensionHandler {
  const byName = new Map(
    [...deps.functions.values()].map((f) => [f.metadata.name.toLowerCase(), f]),
  );
  return async (req, res, url) => {
    if (!/^\/admin(\/|$)/i.test(url.pathname)) return false;
    // Admin routes need the master key when keys are enforced, as on Azure.
    if (deps.keys && !keyMatches(presentedKey(req, url), deps.keys.master)) {
      throw new HttpError(
        401,
        'unauthorized',
        'Admin routes need the master key (x-functions-key).',
      );
    }
    const fnMatch = /^\/admin\/functions\/([^/]+)\/?$/i.exec(url.pathname);
    if (fnMatch) {
      await runFunction(deps, byName, decodeURIComponent(fnMatch[1]!), req, res);
      return true;
    }
    if (/^\/admin\/devhost\/clock\/?$/i.test(url.pathname)) {
      await clockRoute(deps, req, res);
      return true;
    }
    throw new HttpError(404, 'not-found', `No admin route ${req.method} ${url.pathname}.`);
  };
}
