// Azure Storage queues as a host extension: queue triggers, queue output bindings, and their settings.
import { QueueClient, QueueServiceClient } from '@azure/storage-queue';
import type { RegisteredFunction } from '../core.js';
import type { HostContext, HostExtension, StartedExtension } from '../extension.js';
import { triggerOf } from '../http/router.js';
import type { HostLogger } from '../logger.js';
import type { RpcBindingInfo } from '../rpcTypes.js';
import { storageStatus } from '../storage.js';
import { QueueListener } from './listener.js';
import { encodeBody, outputMessages, triggerInput, triggerMetadata } from './messages.js';
import { queuesOptions, type QueuesOptions } from './options.js';
import { QueueBindingError, StartupError } from '../errors.js';

export interface QueuesExtension extends StartedExtension {
  options: QueuesOptions;
  /** the running listeners, by function name */
  listeners: ReadonlyMap<string, QueueListener>;
  close(): Promise<void>;
}

/** Storage queue triggers and `queue` output bindings: `startHost({ extensions: [queuesExtension] })`. */
export const queuesExtension: HostExtension<QueuesExtension> = {
  name: 'queues',
  bindingTypes: ['queueTrigger', 'queue'],
  start: startQueues,
};

/** Resolves `%Setting%` parts from the app settings, as the host's name resolver does. */
export function resolveSettings(text: string, env: NodeJS.ProcessEnv): string {
  return text.replace(/%([^%]+)%/g, (_, name: string) => {
    const value = env[name];
    if (value === undefined || value === '')
      throw new QueueBindingError(
        `'%${name}%' does not resolve to a value (no app setting '${name}').`,
      );
    return value;
  });
}

/** A queue name's rules (QueueClientExtensions.IsValidQueueName), or undefined when it is valid. */
export function queueNameProblem(name: string): string | undefined {
  if (name.length < 3 || name.length > 63)
    return `A queue name must be from 3 to 63 characters long - "${name}"`;
  if (name.startsWith('-') || name.endsWith('-'))
    return `The dash (-) character may not be the first or last letter - "${name}"`;
  if (!/^[a-z0-9-]+$/.test(name))
    return `A queue name can contain only lower-case letters, numbers, and dash(-) characters - "${name}"`;
  if (name.includes('--')) return 'A queue name cannot contain consecutive dash(-) characters.';
  return undefined;
}

/** The poison queue of a queue, unless the name already ends in -poison or would get too long. */
export function poisonQueueName(name: string): string | undefined {
  if (name.endsWith('-poison')) return undefined;
  const poison = `${name}-poison`;
  return queueNameProblem(poison) ? undefined : poison;
}

/**
 * The connection string a binding's `connection` names (default `AzureWebJobsStorage`): the app setting
 * `AzureWebJobs<name>`, else `<name>`, as the host looks them up.
 */
function connectionString(binding: RpcBindingInfo, env: NodeJS.ProcessEnv): string {
  const name =
    typeof binding.connection === 'string' && binding.connection
      ? binding.connection
      : 'AzureWebJobsStorage';
  const value = env[`AzureWebJobs${name}`] || env[name];
  if (value) return value;
  const identity = Object.keys(env).find((k) =>
    new RegExp(`^(AzureWebJobs)?${name}__(queueServiceUri|serviceUri)$`, 'i').test(k),
  );
  throw new QueueBindingError(
    identity
      ? `the connection '${name}' is identity-based (${identity}), which this host does not support: set '${name}' to a connection string.`
      : `Storage account connection string '${name}' does not exist. Make sure that it is a defined App Setting (local.settings.json Values).`,
  );
}

/** Queue clients shared by every binding, one per connection string and queue. */
class QueueClients {
  readonly #services = new Map<string, QueueServiceClient>();
  readonly #queues = new Map<string, QueueClient>();
  readonly #created = new Set<string>();

  get(connection: string, queueName: string): QueueClient {
    const key = `${connection}\n${queueName}`;
    let queue = this.#queues.get(key);
    if (!queue) {
      let service = this.#services.get(connection);
      if (!service) {
        try {
          service = QueueServiceClient.fromConnectionString(connection);
        } catch (e) {
          throw new QueueBindingError(
            `the connection string is not usable for queues: ${(e as Error).message}`,
          );
        }
        this.#services.set(connection, service);
      }
      queue = service.getQueueClient(queueName);
      this.#queues.set(key, queue);
    }
    return queue;
  }

  /** Sends one message, creating the queue the first time it is missing (AddMessageAndCreateIfNotExists). */
  async send(queue: QueueClient, text: string): Promise<void> {
    try {
      await queue.sendMessage(text);
    } catch (e) {
      if (storageStatus(e) !== 404 || this.#created.has(queue.url)) throw e;
      await queue.createIfNotExists();
      this.#created.add(queue.url);
      await queue.sendMessage(text);
    }
  }
}

interface ResolvedQueue {
  connection: string;
  queueName: string;
}

/** The queue a binding names, with `%Setting%` resolved and the name lower-cased and checked. */
function resolveQueue(binding: RpcBindingInfo, env: NodeJS.ProcessEnv): ResolvedQueue {
  const raw = typeof binding.queueName === 'string' ? binding.queueName : '';
  if (!raw) throw new QueueBindingError('it names no queue (queueName).');
  if (/[{}]/.test(raw))
    throw new QueueBindingError(
      `the queue name "${raw}" uses a binding expression ({…}), which this host does not resolve.`,
    );
  const queueName = resolveSettings(raw, env).toLowerCase();
  const problem = queueNameProblem(queueName);
  if (problem) throw new QueueBindingError(problem);
  return { connection: connectionString(binding, env), queueName };
}

function isQueueTrigger(fn: RegisteredFunction): boolean {
  return triggerOf(fn)?.[1].type?.toLowerCase() === 'queuetrigger';
}

function queueOutputs(fn: RegisteredFunction): [string, RpcBindingInfo][] {
  return Object.entries(fn.metadata.bindings).filter(
    ([, b]) => b.direction === 'out' && b.type?.toLowerCase() === 'queue',
  );
}

const label = (name: string): string => (name === '$return' ? 'return' : `'${name}'`);

/**
 * Starts listeners for the app's queue triggers and the sink of its queue output bindings; undefined
 * when the app has neither. A binding whose queue or connection cannot be resolved is an error for
 * that function only (it does not run; its output fails its invocations), as the host indexes them.
 */
export async function startQueues(ctx: HostContext): Promise<QueuesExtension | undefined> {
  const fns = [...ctx.functions.values()];
  const triggered = fns.filter(isQueueTrigger);
  const withOutputs = fns.filter((f) => queueOutputs(f).length > 0);
  if (triggered.length === 0 && withOutputs.length === 0) return undefined;

  const env = process.env;
  const options = queuesOptions(ctx.options.raw.extensions?.queues);
  const clients = new QueueClients();
  const listeners = new Map<string, QueueListener>();
  const byUrl = new Map<string, QueueListener[]>();
  const logger = ctx.logger;

  registerOutputs(ctx, withOutputs, clients, options, byUrl, env);

  for (const fn of triggered) {
    const [triggerName, binding] = triggerOf(fn)!;
    let resolved: ResolvedQueue;
    let queue: QueueClient;
    try {
      resolved = resolveQueue(binding, env);
      queue = clients.get(resolved.connection, resolved.queueName);
    } catch (e) {
      if (!(e instanceof QueueBindingError)) throw e;
      logger.error(
        'Host.Startup',
        `Function '${fn.metadata.name}' will not run: its queue trigger: ${e.message}`,
      );
      continue;
    }
    try {
      await queue.createIfNotExists();
    } catch (e) {
      throw new StartupError(
        `Cannot reach the queue service for function '${fn.metadata.name}' (${(e as Error).message.split('\n')[0]}); is Azurite running?`,
      );
    }
    const poisonName = poisonQueueName(resolved.queueName);
    const listener = new QueueListener(
      {
        fn,
        triggerName,
        dataType: binding.dataType,
        queue,
        poison: poisonName ? clients.get(resolved.connection, poisonName) : undefined,
      },
      options,
      ctx.invoker,
      logger,
      (poison, text) => clients.send(poison, text),
    );
    listeners.set(fn.metadata.name, listener);
    byUrl.set(queue.url, [...(byUrl.get(queue.url) ?? []), listener]);
  }

  ctx.adminInvokers.set('queuetrigger', (fn, input) => {
    const [triggerName, binding] = triggerOf(fn)!;
    const body = Buffer.from(input, 'utf8');
    void ctx.invoker.invoke(
      fn,
      {
        inputData: [{ name: triggerName, data: triggerInput(body, binding.dataType) }],
        // A message made from a string, as StringToStorageQueueMessageConverter makes it: no id yet.
        triggerMetadata: triggerMetadata({ dequeueCount: 0 }, input),
      },
      'This function was programmatically called via the host APIs.',
    );
  });

  for (const l of listeners.values()) l.start();
  logStart(logger, options, listeners.size);
  return {
    options,
    listeners,
    close: async () => {
      await Promise.all([...listeners.values()].map((l) => l.stop()));
    },
  };
}

/** Registers the `queue` output sink: each value's messages, encoded, sent in order after success. */
function registerOutputs(
  ctx: HostContext,
  fns: RegisteredFunction[],
  clients: QueueClients,
  options: QueuesOptions,
  byUrl: Map<string, QueueListener[]>,
  env: NodeJS.ProcessEnv,
): void {
  const targets = new Map<string, ResolvedQueue | QueueBindingError>();
  const key = (fn: RegisteredFunction, name: string): string => `${fn.id}\n${name}`;
  for (const fn of fns) {
    for (const [name, binding] of queueOutputs(fn)) {
      try {
        targets.set(key(fn, name), resolveQueue(binding, env));
      } catch (e) {
        if (!(e instanceof QueueBindingError)) throw e;
        targets.set(key(fn, name), e);
        ctx.logger.error(
          'Host.Startup',
          `Function '${fn.metadata.name}': the queue output ${label(name)} cannot be used, so its invocations will fail: ${e.message}`,
        );
      }
    }
  }
  ctx.invoker.addOutputHandler('queue', async (fn, name, _binding, data) => {
    const target = targets.get(key(fn, name));
    const where = `queue output ${label(name)}`;
    if (!target) throw new Error(`The ${where} is unknown to the host.`);
    if (target instanceof QueueBindingError) throw new Error(`The ${where}: ${target.message}`);
    let messages: (string | Uint8Array)[];
    try {
      messages = outputMessages(data);
    } catch (e) {
      throw new Error(`The ${where} (queue '${target.queueName}'): ${(e as Error).message}`, {
        cause: e,
      });
    }
    const queue = clients.get(target.connection, target.queueName);
    let sent = 0;
    try {
      for (const m of messages) {
        await clients.send(queue, encodeBody(m, options.messageEncoding));
        sent++;
      }
    } catch (e) {
      throw new Error(
        `Sending to queue '${target.queueName}' (${where}) failed after ${sent} of ${messages.length} message(s): ${(e as Error).message.split('\n')[0]}`,
        { cause: e },
      );
    } finally {
      if (sent > 0) for (const l of byUrl.get(queue.url) ?? []) l.notify();
    }
  });
}

function logStart(logger: HostLogger, o: QueuesOptions, listeners: number): void {
  logger.log(
    'Host.Startup',
    'debug',
    `Queues: ${listeners} listener(s); batchSize ${o.batchSize}, newBatchThreshold ${o.newBatchThreshold}, maxPollingInterval ${o.maxPollingIntervalMs} ms, visibilityTimeout ${o.visibilityTimeoutMs} ms, maxDequeueCount ${o.maxDequeueCount}, messageEncoding ${o.messageEncoding}.`,
  );
}
