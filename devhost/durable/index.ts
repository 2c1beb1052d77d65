// Wires the Durable engine into the host: storage, the engine, the Durable HTTP API and the client binding.
import type { HostContext } from '../host.js';
import type { ExtensionHandler } from '../http/server.js';
import { StartupError } from '../settings.js';
import { DurableEngine } from './engine.js';
import { clientPayload, durableHttpApi } from './httpApi.js';
import { TableInstanceStore } from './tableStore.js';

export interface DurableExtension {
  engine: DurableEngine;
  routes: ExtensionHandler;
  close(): Promise<void>;
}

/** The task hub name rules of the Azure Storage provider: 3–45 letters and digits, starting with a letter. */
const HUB_NAME = /^[A-Za-z][A-Za-z0-9]{2,44}$/;

/**
 * Starts the Durable extension when the app has Durable functions or clients; undefined otherwise.
 * Defaults follow the extension: hub `TestHubName`, 10 activities and 10 orchestrations per core.
 */
export async function startDurable(
  ctx: HostContext,
  keys: { master: string } | undefined,
): Promise<DurableExtension | undefined> {
  const fns = [...ctx.functions.values()];
  const usesDurable = fns.some((f) =>
    Object.values(f.metadata.bindings).some((b) =>
      /^(orchestrationTrigger|activityTrigger|entityTrigger|durableClient|orchestrationClient)$/i.test(
        b.type ?? '',
      ),
    ),
  );
  if (!usesDurable) return undefined;
  const hubName =
    ctx.options.durable.hubName ??
    process.env.WEBSITE_SITE_NAME?.replace(/[^A-Za-z0-9]/g, '') ??
    'TestHubName';
  if (!HUB_NAME.test(hubName)) {
    throw new StartupError(
      `The task hub name "${hubName}" is invalid: use 3 to 45 letters and digits, starting with a letter.`,
    );
  }
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
  // The client rewrites management URLs to localhost:7071 unless WEBSITE_HOSTNAME names the host (§9.1).
  process.env.WEBSITE_HOSTNAME ??= new URL(ctx.baseUrl).host;
  const payload = JSON.stringify(
    clientPayload({ baseUrl: ctx.baseUrl, hubName, ...(keys ? { code: keys.master } : {}) }),
  );
  ctx.invoker.addInputProvider('durableClient', () => ({ string: payload }));
  ctx.invoker.addInputProvider('orchestrationClient', () => ({ string: payload }));
  return {
    engine,
    routes: durableHttpApi(engine, {
      baseUrl: () => ctx.baseUrl,
      keys: keys ? { master: keys.master } : undefined,
    }),
    close: () => engine.stop(),
  };
}
