// Starts a v4 app in this process: settings, entry points, hooks, HTTP front, timers.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { adminRoutes } from './admin.js';
import { RealClock, VirtualClock, type Clock } from './clock.js';
import { CoreState, installCoreModule, type RegisteredFunction } from './core.js';
import type { AdminInvoker, HostContext, HostExtension, StartedExtension } from './extension.js';
import { Router, triggerOf } from './http/router.js';
import { isLoopback, listenOn, LOOPBACK, type Listening } from './http/listen.js';
import { HttpFront, type AuthKeys, type ExtensionHandler } from './http/server.js';
import { Invoker } from './invoke.js';
import { loadEntryPoints } from './loader.js';
import { consoleSink, HostLogger, type LogSink } from './logger.js';
import {
  applySettings,
  httpLimits,
  loadHostJson,
  loadLocalSettings,
  type HostOptions,
} from './settings.js';
import { tableClient } from './storage.js';
import {
  isTimer,
  TableScheduleStatusStore,
  TimerService,
  TIMER_STATUS_TABLE,
} from './timers/service.js';
import { StartupError } from './errors.js';

export interface HostStartOptions {
  scriptRoot: string;
  /** default: local.settings.json Host.LocalHttpPort, else 7071; 0 picks a free port */
  port?: number;
  /** where to listen: default `localhost` (127.0.0.1 and ::1); `0.0.0.0` or `::` for every interface */
  hostname?: string;
  /** true: a virtual clock starting now; a Date: starting then */
  virtualClock?: boolean | Date;
  enableAuth?: boolean;
  logSink?: LogSink;
  /** extensions to start (e.g. Durable), in order; their routes are tried before the app's triggers */
  extensions?: readonly HostExtension[];
}

export type { HostContext, HostExtension, StartedExtension } from './extension.js';

export interface RunningHost extends HostContext {
  port: number;
  timers: TimerService;
  /** the extensions the app uses, by name (an extension that returned undefined is absent) */
  extensions: ReadonlyMap<string, StartedExtension>;
  close(): Promise<void>;
}

const FUNCTION_NAME = /^[a-z][a-z0-9_-]{0,127}$/i;
const BINDING_NAME = /^([a-zA-Z][a-zA-Z0-9]{0,127}|\$return)$/;

/** The worker's default capabilities, passed through the programming model as the worker does. */
const WORKER_CAPABILITIES = {
  RawHttpBodyBytes: 'true',
  RpcHttpTriggerMetadataRemoved: 'true',
  RpcHttpBodyOnly: 'true',
  IgnoreEmptyValuedRpcHttpHeaders: 'true',
  UseNullableValueDictionaryForHttp: 'true',
  WorkerStatus: 'true',
  TypedDataCollection: 'true',
  HandlesWorkerTerminateMessage: 'true',
};

function validateNames(functions: Iterable<RegisteredFunction>): void {
  for (const fn of functions) {
    const name = fn.metadata.name;
    if (!FUNCTION_NAME.test(name) || name.toLowerCase() === 'host') {
      throw new StartupError(
        `The function name "${name}" is invalid: use a letter first, then letters, digits, "_" or "-" (at most 128).`,
      );
    }
    for (const binding of Object.keys(fn.metadata.bindings)) {
      if (!BINDING_NAME.test(binding)) {
        throw new StartupError(`Function "${name}": the binding name "${binding}" is invalid.`);
      }
    }
    if (!triggerOf(fn)) throw new StartupError(`Function "${name}" has no trigger binding.`);
  }
}

/** A stable id for this app on this machine, for rows the host keeps (the real host derives it from the site). */
function hostIdFor(root: string, env: NodeJS.ProcessEnv): string {
  const configured = env.AzureFunctionsWebHost__hostid ?? env.AzureFunctionsWebHost__hostId;
  if (configured) return configured.replace(/[^A-Za-z0-9-]/g, '').slice(0, 32) || 'host';
  const base =
    path
      .basename(root)
      .toLowerCase()
      .replace(/[^a-z0-9-]/g, '')
      .slice(0, 20) || 'app';
  return `${base}-${createHash('sha256').update(path.resolve(root)).digest('hex').slice(0, 10)}`;
}

/** The system key's name, as the real host names the Durable extension's webhook key. */
export const DURABLE_SYSTEM_KEY = 'durabletask_extension';

interface KeysFile {
  master?: string;
  function?: string;
  systemKeys?: Record<string, string>;
}

/**
 * Keys for --enable-auth: DEVHOST_MASTER_KEY, DEVHOST_FUNCTION_KEY and DEVHOST_DURABLETASK_EXTENSION_KEY
 * from the environment, else generated once and kept in <script-root>/.devhost/keys.json (never
 * printed: keys are secrets).
 */
async function loadKeys(
  root: string,
  env: NodeJS.ProcessEnv,
  logger: HostLogger,
): Promise<AuthKeys> {
  const file = path.join(root, '.devhost', 'keys.json');
  let saved: KeysFile = {};
  try {
    saved = JSON.parse(await readFile(file, 'utf8')) as KeysFile;
  } catch {
    /* none yet */
  }
  const fresh = (): string => randomBytes(32).toString('base64url');
  const keys: AuthKeys = {
    master: env.DEVHOST_MASTER_KEY || saved.master || fresh(),
    function: env.DEVHOST_FUNCTION_KEY || saved.function || fresh(),
    durableTask:
      env.DEVHOST_DURABLETASK_EXTENSION_KEY || saved.systemKeys?.[DURABLE_SYSTEM_KEY] || fresh(),
  };
  if (
    !env.DEVHOST_MASTER_KEY ||
    !env.DEVHOST_FUNCTION_KEY ||
    !env.DEVHOST_DURABLETASK_EXTENSION_KEY
  ) {
    const out: KeysFile = {
      master: keys.master,
      function: keys.function,
      systemKeys: { [DURABLE_SYSTEM_KEY]: keys.durableTask },
    };
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, JSON.stringify(out, null, 2), { mode: 0o600 });
    logger.info('Host.Startup', `Function keys are enforced; the keys are in ${file}.`);
  }
  return keys;
}

async function listen(
  front: HttpFront,
  port: number,
  hostname: string | undefined,
): Promise<Listening> {
  try {
    return await listenOn(front.server, port, hostname ?? LOOPBACK);
  } catch (e) {
    throw (e as NodeJS.ErrnoException).code === 'EADDRINUSE'
      ? new StartupError(
          `Port ${port} is unavailable. Close the process using that port, or specify another port using --port.`,
        )
      : new StartupError(
          `Cannot listen on ${hostname ?? LOOPBACK}:${port}: ${(e as Error).message}`,
        );
  }
}

/** Loads the app through the real library: core module, entry points, appStart hooks, capabilities. */
async function loadApp(
  root: string,
  options: HostOptions,
  logger: HostLogger,
): Promise<{ core: CoreState; invoker: Invoker }> {
  const invokerRef: { current?: Invoker } = {};
  const core = new CoreState((level, category, message) => {
    if (invokerRef.current) invokerRef.current.log(undefined, level, category, message);
    else logger.log('Host.General', level, message);
  });
  installCoreModule(core);
  const invoker = new Invoker(core, logger, {
    ms: options.functionTimeoutMs,
    text: options.functionTimeoutText,
  });
  invokerRef.current = invoker;

  await loadEntryPoints(root, core);
  await core.runHooks('appStart', {
    hookData: {},
    appHookData: core.appHookData,
    functionAppDirectory: root,
  });
  core.lock();
  await core.programmingModel?.getCapabilities?.({ ...WORKER_CAPABILITIES });
  validateNames(core.functions.values());
  return { core, invoker };
}

/** host.json's `functions` allow-list and `AzureWebJobs.<name>.Disabled` switch functions off. */
function enabledFunctions(
  core: CoreState,
  options: HostOptions,
  env: NodeJS.ProcessEnv,
  logger: HostLogger,
): Map<string, RegisteredFunction> {
  const functions = new Map<string, RegisteredFunction>();
  const allow = options.allowList?.map((n) => n.toLowerCase());
  for (const [id, fn] of core.functions) {
    const name = fn.metadata.name;
    if (allow && !allow.includes(name.toLowerCase())) continue;
    if (/^(true|1)$/i.test(env[`AzureWebJobs.${name}.Disabled`] ?? '')) {
      logger.info('Host.Startup', `Function '${name}' is disabled.`);
      continue;
    }
    functions.set(id, fn);
  }
  return functions;
}

/** The timer triggers with their schedule statuses in Table storage (required when there are timers). */
async function timerService(
  root: string,
  functions: Map<string, RegisteredFunction>,
  clock: Clock,
  invoker: Invoker,
  logger: HostLogger,
  env: NodeJS.ProcessEnv,
): Promise<TimerService> {
  const storageConnection = env.AzureWebJobsStorage || undefined;
  const hasTimers = [...functions.values()].some(isTimer);
  if (hasTimers && !storageConnection) {
    throw new StartupError(
      'Missing value for AzureWebJobsStorage in local.settings.json. This is required for all triggers other than httpTrigger.',
    );
  }
  let store: TableScheduleStatusStore | undefined;
  if (hasTimers && storageConnection) {
    store = new TableScheduleStatusStore(
      tableClient(storageConnection, TIMER_STATUS_TABLE),
      hostIdFor(root, env),
    );
    try {
      await store.init();
    } catch (e) {
      throw new StartupError(
        `Cannot reach AzureWebJobsStorage (${(e as Error).message.split('\n')[0]}); is Azurite running?`,
      );
    }
  }
  // WEBSITE_TIME_ZONE may be a Windows zone name, which only the real host can map; IANA names are used.
  const zone =
    env.WEBSITE_TIME_ZONE && /\/|^UTC$/i.test(env.WEBSITE_TIME_ZONE)
      ? env.WEBSITE_TIME_ZONE
      : undefined;
  return new TimerService(functions.values(), clock, invoker, logger, env, store, zone);
}

/** local.settings.json into the environment, then host.json read with its overrides; the logger. */
async function configure(
  root: string,
  env: NodeJS.ProcessEnv,
  sink: LogSink,
): Promise<{
  settings: Awaited<ReturnType<typeof loadLocalSettings>>;
  options: HostOptions;
  logger: HostLogger;
}> {
  const settings = await loadLocalSettings(root);
  const skipped = applySettings(settings.values, env);
  env.FUNCTIONS_WORKER_RUNTIME ??= 'node';
  env.AZURE_FUNCTIONS_ENVIRONMENT ??= 'Development';
  env.AzureWebJobsScriptRoot ??= root;
  const options = await loadHostJson(root, env);
  const logger = new HostLogger(options.logLevel, sink);
  for (const key of skipped) {
    logger.log(
      'Host.Startup',
      'debug',
      `Skipping '${key}' from local settings as it's already defined in current environment variables.`,
    );
  }
  return { settings, options, logger };
}

/** Stops the host once: timers, extensions, connections, then the appTerminate hooks. */
function closer(
  core: CoreState,
  logger: HostLogger,
  timers: TimerService,
  started: Map<string, StartedExtension>,
  front: HttpFront,
  listening: { close(): Promise<void> },
): () => Promise<void> {
  let closed = false;
  return async () => {
    if (closed) return;
    closed = true;
    timers.stop();
    await closeExtensions(started);
    front.server.closeIdleConnections();
    await listening.close();
    await timers.idle();
    await core
      .runHooks('appTerminate', { hookData: {}, appHookData: core.appHookData })
      .catch((e: unknown) => {
        logger.error('Host.General', `An appTerminate hook failed: ${String(e)}`);
      });
  };
}

export async function startHost(opts: HostStartOptions): Promise<RunningHost> {
  const env = process.env;
  const root = path.resolve(opts.scriptRoot);
  const { settings, options, logger } = await configure(root, env, opts.logSink ?? consoleSink);
  const { core, invoker } = await loadApp(root, options, logger);

  const functions = enabledFunctions(core, options, env, logger);

  const clock: Clock = opts.virtualClock
    ? new VirtualClock(opts.virtualClock instanceof Date ? opts.virtualClock : new Date())
    : new RealClock();
  const storageConnection = env.AzureWebJobsStorage || undefined;
  const timers = await timerService(root, functions, clock, invoker, logger, env);

  const keys = opts.enableAuth ? await loadKeys(root, env, logger) : undefined;
  const limits = httpLimits(env);
  const router = new Router(functions.values(), options.routePrefix);
  const extensions: ExtensionHandler[] = [];
  const front = new HttpFront({
    router,
    invoker,
    logger,
    customHeaders: options.customHeaders,
    maxConcurrentRequests: options.maxConcurrentRequests,
    cors: settings.cors,
    keys,
    extensions,
    limits,
  });
  const listening = await listen(front, opts.port ?? settings.port ?? 7071, opts.hostname);
  const port = listening.port;
  front.loopbackOnly = listening.addresses.every(isLoopback);
  const baseUrl = `http://localhost:${port}`;
  const ctx: HostContext = {
    scriptRoot: root,
    options,
    core,
    functions,
    invoker,
    logger,
    clock,
    storageConnection,
    baseUrl,
    keys,
    limits,
    adminInvokers: new Map<string, AdminInvoker>(),
  };
  extensions.push(
    adminRoutes({ functions, invoker, timers, clock, keys, adminInvokers: ctx.adminInvokers }),
  );
  const started = await startExtensions(opts.extensions ?? [], ctx, extensions).catch(
    async (e: unknown) => {
      await listening.close();
      throw e;
    },
  );
  // Timers are armed before the first request is let in, so a clock move can never outrun them.
  await timers.start();
  front.open();
  warnUnsupportedBindings(logger, functions, opts.extensions ?? []);
  printFunctions(logger, router, functions, baseUrl);
  if (!listening.addresses.every(isLoopback)) {
    logger.log(
      'Host.Startup',
      'warning',
      `Listening on ${listening.addresses.join(', ')}: other machines can reach this host${keys ? '' : ' and, without --enable-auth, its admin and Durable routes'}.`,
    );
  }

  return {
    ...ctx,
    port,
    timers,
    extensions: started,
    close: closer(core, logger, timers, started, front, listening),
  };
}

/** The binding types the host itself runs; extensions add theirs (`HostExtension.bindingTypes`). */
const HOST_BINDING_TYPES = ['httpTrigger', 'http', 'timerTrigger'];

/**
 * One warning per function that has a binding of a type nothing here runs (a blob trigger, a table
 * input, a Service Bus output, …): the trigger never fires, the input gets no value, the output's value
 * goes nowhere. Start-up goes on, as the real host runs the rest of the app.
 */
function warnUnsupportedBindings(
  logger: HostLogger,
  functions: Map<string, RegisteredFunction>,
  extensions: readonly HostExtension[],
): void {
  const known = new Set(
    [...HOST_BINDING_TYPES, ...extensions.flatMap((e) => e.bindingTypes)].map((t) =>
      t.toLowerCase(),
    ),
  );
  const byName = [...functions.values()].sort((a, b) =>
    a.metadata.name.localeCompare(b.metadata.name),
  );
  for (const fn of byName) {
    const missing: string[] = [];
    let trigger = false;
    for (const [name, b] of Object.entries(fn.metadata.bindings)) {
      const type = b.type ?? '';
      if (known.has(type.toLowerCase())) continue;
      if (/trigger$/i.test(type)) {
        trigger = true;
        missing.push(`the ${type} trigger`);
      } else {
        const binding = name === '$return' ? 'return' : `'${name}'`;
        missing.push(`the ${type} ${b.direction === 'out' ? 'output' : 'input'} ${binding}`);
      }
    }
    if (missing.length === 0) continue;
    const what = missing.join(', ');
    const effect = [
      trigger
        ? `it never fires by itself (POST /admin/functions/${fn.metadata.name} runs it)`
        : undefined,
      missing.length > (trigger ? 1 : 0)
        ? 'such inputs get no value and such outputs are dropped'
        : undefined,
    ]
      .filter(Boolean)
      .join('; ');
    logger.log(
      'Host.Startup',
      'warning',
      `Function '${fn.metadata.name}': ${what} ${missing.length === 1 ? 'is' : 'are'} not run by this host: ${effect}.`,
    );
  }
}

/** Starts each extension the app uses, adding its routes; on a failure stops those started and throws. */
async function startExtensions(
  list: readonly HostExtension[],
  ctx: HostContext,
  routes: ExtensionHandler[],
): Promise<Map<string, StartedExtension>> {
  const started = new Map<string, StartedExtension>();
  try {
    for (const extension of list) {
      const running = await extension.start(ctx);
      if (!running) continue;
      started.set(extension.name, running);
      if (running.routes) routes.push(running.routes);
    }
  } catch (e) {
    await closeExtensions(started);
    throw e;
  }
  return started;
}

/** Stops started extensions, the last started first. */
async function closeExtensions(started: Map<string, StartedExtension>): Promise<void> {
  for (const running of [...started.values()].reverse()) await running.close?.();
}

function printFunctions(
  logger: HostLogger,
  router: Router,
  functions: Map<string, RegisteredFunction>,
  baseUrl: string,
): void {
  const lines: string[] = ['', 'Functions:', ''];
  const httpByName = new Map(router.routes.map((r) => [r.fn.metadata.name, r]));
  const names = [...functions.values()]
    .map((f) => f.metadata.name)
    .sort((a, b) => a.localeCompare(b));
  for (const name of names) {
    const route = httpByName.get(name);
    if (route) {
      const methods = route.methods ? [...route.methods].join(',') : 'ALL';
      lines.push(`\t${name}: [${methods}] ${baseUrl}/${route.display}`);
    } else {
      const fn = [...functions.values()].find((f) => f.metadata.name === name)!;
      lines.push(`\t${name}: ${triggerOf(fn)?.[1].type ?? 'unknown'}`);
    }
    lines.push('');
  }
  if (functions.size === 0) lines.push('\tNo functions found.', '');
  logger.info('Host.Startup', lines.join('\n'));
  logger.info('Host.Startup', `Host started on ${baseUrl}`);
}
