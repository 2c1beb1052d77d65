// The Durable Task engine of the local host (durable-protocol.md §7): the client's API over the
// scheduler (episodes, dispatch, cache) and the instance store.
import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { RegisteredFunction } from '../core.js';
import type { Invoker } from '../invoke.js';
import type { HostLogger } from '../logger.js';
import { entityInstanceId, isEntityId, signalMessage } from './entities.js';
import type { HistoryEvent } from './history.js';
import type { InstanceStore } from './instanceStore.js';
import { MESSAGE_PREFIX, type InboundMessage, type InstanceRow } from './model.js';
import { DurableFunctions } from './functions.js';
import { nFormatGuid, Scheduler } from './scheduler.js';
import { historyForStatus, statusPayload } from './status.js';
import {
  TERMINAL_STATUSES,
  type ControlResult,
  type DurableEngineApi,
  type InstanceFilter,
  type InstanceStatusPayload,
  type RuntimeStatus,
  type StatusOptions,
} from './types.js';
import { parseJsonText } from './worker.js';
import { DurableError } from '../errors.js';

export interface EngineOptions {
  store: InstanceStore;
  invoker: Invoker;
  logger: HostLogger;
  clock: Clock;
  functions: Iterable<RegisteredFunction>;
  maxConcurrentActivityFunctions: number;
  maxConcurrentOrchestratorFunctions: number;
}

/** Instance ids: not starting with '@' (entities), none of / \\ # ? and no control characters. */
function validInstanceId(id: string): boolean {
  if (id.length === 0 || id.length > 256 || id.startsWith('@') || /[/\\#?]/.test(id)) return false;
  for (const ch of id) {
    const c = ch.charCodeAt(0);
    if (c <= 0x1f || (c >= 0x7f && c <= 0x9f)) return false;
  }
  return true;
}

function unknownOrchestrator(name: string): DurableError {
  return new DurableError(
    400,
    `The function '${name}' doesn't exist, is disabled, or is not an orchestrator function.`,
  );
}

export class DurableEngine implements DurableEngineApi {
  readonly hubName: string;
  readonly #store: InstanceStore;
  readonly #logger: HostLogger;
  readonly #functions: DurableFunctions;
  readonly #scheduler: Scheduler;
  #messageSeq = 0;

  constructor(opts: EngineOptions) {
    this.#store = opts.store;
    this.hubName = opts.store.hubName;
    this.#logger = opts.logger;
    this.#functions = new DurableFunctions(opts.functions);
    this.#scheduler = new Scheduler({ ...opts, functions: this.#functions });
  }

  get hasDurableFunctions(): boolean {
    const f = this.#functions;
    return f.orchestrators.size + f.activities.size + f.entities.size > 0;
  }

  /** Creates the tables and resumes every instance that had work left when the host stopped. */
  async open(): Promise<void> {
    await this.#store.init();
    const ids = await this.#store.recoverableInstanceIds();
    if (ids.size > 0)
      this.#logger.info(
        'Host.Startup',
        `Durable: resuming ${ids.size} instance(s) of task hub '${this.hubName}'.`,
      );
    for (const id of ids) this.#scheduler.kick(id);
  }

  stop(): Promise<void> {
    return this.#scheduler.stop();
  }

  #messageKey(): string {
    this.#messageSeq = (this.#messageSeq + 1) % 0xffffff;
    const time = Date.now().toString(16).padStart(12, '0');
    const seq = this.#messageSeq.toString(16).padStart(6, '0');
    return `${MESSAGE_PREFIX}${time}${seq}${randomUUID().slice(0, 8)}`;
  }

  /** Adds a message for an instance (in storage and in memory) and wakes it. */
  async #postMessage(
    id: string,
    kind: InboundMessage['kind'],
    name: string,
    input: string | null,
  ): Promise<void> {
    const message: InboundMessage = { key: this.#messageKey(), kind, name, input };
    await this.#scheduler.deliver({ to: id, message }, 'add');
    this.#scheduler.kick(id);
  }

  async #row(id: string): Promise<InstanceRow | undefined> {
    const inst = this.#scheduler.peek(id);
    if (inst?.loaded && inst.row) return inst.row;
    return this.#store.getInstance(id);
  }

  async start(name: string, instanceId: string | undefined, input: unknown): Promise<string> {
    const orch = this.#functions.orchestrators.get(name.toLowerCase());
    if (!orch) throw unknownOrchestrator(name);
    const id = instanceId || nFormatGuid();
    if (!validInstanceId(id)) {
      throw new DurableError(
        400,
        `Instance ID '${id}' is invalid: it may not start with '@' nor contain '/', '\\', '#', '?' or control characters.`,
      );
    }
    const row = this.#scheduler.newRow(
      orch.fn.metadata.name,
      input === undefined ? null : JSON.stringify(input),
    );
    const exists = new DurableError(
      409,
      `An Orchestration instance with the ID '${id}' already exists.`,
    );
    if (!(await this.#store.createInstance(id, row))) {
      const existing = await this.#store.getInstance(id);
      if (existing && !TERMINAL_STATUSES.has(existing.RuntimeStatus)) throw exists;
      await this.#scheduler.purge(id);
      if (!(await this.#store.createInstance(id, row))) throw exists;
    }
    this.#scheduler.drop(id);
    const inst = this.#scheduler.instance(id);
    inst.row = row;
    inst.loaded = true;
    this.#scheduler.kick(id);
    return id;
  }

  async getStatus(
    instanceId: string,
    opts: StatusOptions = {},
  ): Promise<InstanceStatusPayload | undefined> {
    const row = await this.#row(instanceId);
    if (!row || isEntityId(instanceId)) return undefined;
    const payload = statusPayload(instanceId, row, opts.showInput !== false);
    if (opts.showHistory && row.RuntimeStatus !== 'Pending') {
      const inst = this.#scheduler.peek(instanceId);
      const history: HistoryEvent[] =
        inst?.loaded && inst.state ? inst.history : await this.#store.readHistory(instanceId);
      payload.historyEvents = historyForStatus(
        history,
        !!opts.showHistoryOutput,
        opts.showInput !== false,
      );
    }
    return payload;
  }

  async listInstances(
    filter: InstanceFilter,
  ): Promise<{ items: InstanceStatusPayload[]; continuationToken?: string }> {
    const page = await this.#store.listInstances(
      filter,
      filter.top ?? 100,
      filter.continuationToken,
    );
    const showInput = filter.showInput !== false;
    const items = page.instances.map((i) => statusPayload(i.id, i.row, showInput));
    return page.continuationToken
      ? { items, continuationToken: page.continuationToken }
      : { items };
  }

  raiseEvent(instanceId: string, eventName: string, data: unknown): Promise<ControlResult> {
    const input = data === undefined ? null : JSON.stringify(data);
    return this.#control(instanceId, 'event', eventName, input);
  }

  terminate(instanceId: string, reason: string): Promise<ControlResult> {
    return this.#control(instanceId, 'terminate', '', reason);
  }

  suspend(instanceId: string, reason: string): Promise<ControlResult> {
    return this.#control(instanceId, 'suspend', '', reason);
  }

  resume(instanceId: string, reason: string): Promise<ControlResult> {
    return this.#control(instanceId, 'resume', '', reason);
  }

  async #control(
    id: string,
    kind: InboundMessage['kind'],
    name: string,
    input: string | null,
  ): Promise<ControlResult> {
    if (isEntityId(id)) return 'not-found';
    const row = await this.#row(id);
    if (!row) return 'not-found';
    if (TERMINAL_STATUSES.has(row.RuntimeStatus)) return 'gone';
    await this.#postMessage(id, kind, name, input);
    return 'accepted';
  }

  rewind(_instanceId: string, _reason: string): Promise<ControlResult> {
    return Promise.reject(new DurableError(501, 'Rewind is not supported by the local host.'));
  }

  async purge(instanceId: string): Promise<boolean> {
    const row = await this.#row(instanceId);
    if (!row) return false;
    await this.#scheduler.purge(instanceId);
    this.#scheduler.changed(instanceId);
    return true;
  }

  async purgeBy(filter: InstanceFilter): Promise<number> {
    let deleted = 0;
    let token: string | undefined;
    do {
      const page = await this.#store.listInstances(filter, 100, token);
      for (const i of page.instances) {
        await this.#scheduler.purge(i.id);
        this.#scheduler.changed(i.id);
        deleted++;
      }
      token = page.continuationToken;
    } while (token);
    return deleted;
  }

  async signalEntity(name: string, key: string, operation: string, input: unknown): Promise<void> {
    const json = input !== undefined ? JSON.stringify(input) : undefined;
    const message = signalMessage(operation, json, randomUUID());
    await this.#postMessage(entityInstanceId(name, key), 'entityOp', operation, message);
  }

  async readEntity(name: string, key: string): Promise<{ exists: boolean; state: unknown }> {
    const inst = this.#scheduler.instance(entityInstanceId(name, key));
    if (!inst.loaded) await this.#scheduler.load(inst);
    const e = inst.entity;
    return e?.exists
      ? { exists: true, state: parseJsonText(e.state) }
      : { exists: false, state: undefined };
  }

  async waitFor(
    instanceId: string,
    statuses: ReadonlySet<RuntimeStatus>,
    timeoutMs: number,
  ): Promise<InstanceStatusPayload | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = await this.getStatus(instanceId);
      if (!status || statuses.has(status.runtimeStatus) || Date.now() >= deadline) return status;
      await new Promise<void>((resolve) => {
        const done = (): void => {
          unwatch();
          clearTimeout(t);
          resolve();
        };
        const t = setTimeout(done, Math.min(1000, Math.max(0, deadline - Date.now())));
        const unwatch = this.#scheduler.watch(instanceId, done);
      });
    }
  }
}
