// Wires the Durable engine into the host: storage, the engine, the Durable HTTP API and the client binding.
import { createServer, type Server } from 'node:http';
import type { RegisteredFunction } from '../core.js';
import type { HostContext, HostExtension, StartedExtension } from '../extension.js';
import { listenOn } from '../http/listen.js';
import {
  limitBody,
  requestUrl,
  sendError,
  sendJson,
  type ExtensionHandler,
  type HttpLimits,
} from '../http/server.js';
import { DurableEngine } from './engine.js';
import { clientPayload, durableHttpApi } from './httpApi.js';
import { TableInstanceStore } from './tableStore.js';
import { HttpError, StartupError } from '../errors.js';

export interface DurableExtension extends StartedExtension {
  engine: DurableEngine;
  routes: ExtensionHandler;
  close(): Promise<void>;
}

/** Durable Functions as a host extension: `startHost({ extensions: [durableExtension] })`. */
export const durableExtension: HostExtension<DurableExtension> = {
  name: 'durable',
  bindingTypes: [
    'orchestrationTrigger',
    'activityTrigger',
    'entityTrigger',
    'durableClient',
    'orchestrationClient',
  ],
  start: startDurable,
};

/** The running Durable extension of a host, if its app uses Durable Functions. */
export function durableOf(host: {
  extensions: ReadonlyMap<string, StartedExtension>;
}): DurableExtension | undefined {
  return host.extensions.get(durableExtension.name) as DurableExtension | undefined;
}

/** The task hub name rules of the Azure Storage provider: 3–45 letters and digits, starting with a letter. */
const HUB_NAME = /^[A-Za-z][A-Za-z0-9]{2,44}$/;

/** True for a function with a Durable trigger or client binding. */
function usesDurable(f: RegisteredFunction): boolean {
  return Object.values(f.metadata.bindings).some((b) =>
    /^(orchestrationTrigger|activityTrigger|entityTrigger|durableClient|orchestrationClient)$/i.test(
      b.type ?? '',
    ),
  );
}

/** The task hub: host.json's hubName, else the site name (as on Azure), else `TestHubName`; validated. */
function taskHubName(ctx: HostContext): string {
  const hubName =
    ctx.options.durable.hubName ??
    process.env.WEBSITE_SITE_NAME?.replace(/[^A-Za-z0-9]/g, '') ??
    'TestHubName';
  if (!HUB_NAME.test(hubName)) {
    throw new StartupError(
      `The task hub name "${hubName}" is invalid: use 3 to 45 letters and digits, starting with a letter.`,
    );
  }
  return hubName;
}

/**
 * Starts the Durable extension when the app has Durable functions or clients; undefined otherwise.
 * Defaults follow the extension: hub `TestHubName`, 10 activities and 10 orchestrations per core.
 */
export async function startDurable(ctx: HostContext): Promise<DurableExtension | undefined> {
  const keys = ctx.keys;
  const fns = [...ctx.functions.values()];
  if (!fns.some(usesDurable)) return undefined;
  const hubName = taskHubName(ctx);
  if (!ctx.storageConnection) {
    throw new StartupError(
      'Missing value for AzureWebJobsStorage in local.settings.json: Durable Functions keep their state in it.',
    );
  }
  const store = new TableInstanceStore(ctx.storageConnection, hubName);
  const cores = 2;
  const engine = new DurableEngine({
    store,
    invoker: ctx.invoker,
    logger: ctx.logger,
    clock: ctx.clock,
    functions: fns,
    maxConcurrentActivityFunctions:
      ctx.options.durable.maxConcurrentActivityFunctions ?? 10 * cores,
    maxConcurrentOrchestratorFunctions:
      ctx.options.durable.maxConcurrentOrchestratorFunctions ?? 10 * cores,
  });
  try {
    await engine.open();
  } catch (e) {
    throw new StartupError(
      `Cannot open the task hub '${hubName}' in AzureWebJobsStorage (${(e as Error).message.split('\n')[0]}); is Azurite running?`,
    );
  }
  const apiKeys = keys ? { master: keys.master, durableTask: keys.durableTask } : undefined;
  const baseUrl = (): string => ctx.baseUrl;
  let internal: { server: Server; close(): Promise<void>; port: number };
  try {
    internal = await internalListener(
      durableHttpApi(engine, { baseUrl, keys: apiKeys, internal: true }),
      ctx.limits,
    );
  } catch (e) {
    await engine.stop();
    throw new StartupError(
      `Cannot open the Durable client's local listener: ${(e as Error).message}`,
    );
  }
  // The client rewrites management URLs to localhost:7071 unless WEBSITE_HOSTNAME names the host (§9.1).
  process.env.WEBSITE_HOSTNAME ??= new URL(ctx.baseUrl).host;
  // The webhook URLs carry the system key, as on Azure, so createCheckStatusResponse links work as given.
  const payload = JSON.stringify(
    clientPayload({
      baseUrl: ctx.baseUrl,
      hubName,
      rpcOrigin: `http://127.0.0.1:${internal.port}`,
      ...(keys ? { code: keys.durableTask } : {}),
    }),
  );
  ctx.invoker.addInputProvider('durableClient', () => ({ string: payload }));
  ctx.invoker.addInputProvider('orchestrationClient', () => ({ string: payload }));
  return {
    engine,
    routes: durableHttpApi(engine, { baseUrl, keys: apiKeys, internal: false }),
    close: async () => {
      internal.server.closeIdleConnections();
      await engine.stop();
      internal.server.closeAllConnections();
      await internal.close();
    },
  };
}

/**
 * The client's listener (the extension's LocalHttpListener): 127.0.0.1 only, whatever the public
 * port listens on, on a free port, serving `/durabletask/…` and nothing else.
 */
async function internalListener(
  handler: ExtensionHandler,
  limits: HttpLimits,
): Promise<{ server: Server; close(): Promise<void>; port: number }> {
  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs),
    },
    (req, res) => {
      limitBody(req, limits.maxRequestBodySize);
      (async () => {
        if (!(await handler(req, res, requestUrl(req))))
          sendJson(res, 404, { Message: `No Durable route ${req.method} ${req.url}.` });
      })().catch((e: unknown) => {
        if (res.headersSent) res.destroy();
        else if (e instanceof HttpError) sendError(res, e);
        else sendJson(res, 500, { Message: 'Something went wrong while processing your request' });
      });
    },
  );
  const listening = await listenOn(server, 0, '127.0.0.1');
  return { server, close: () => listening.close(), port: listening.port };
}
