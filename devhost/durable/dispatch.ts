// Dispatch of pending tasks: activities run through the worker, timers on the clock, sub-orchestrations
// as child instances, entity requests as messages; completions return to the instance that waits.
import type { Clock } from '../clock.js';
import type { Invoker } from '../invoke.js';
import type { Delivery } from './entities.js';
import type { DurableFunctions, Semaphore } from './functions.js';
import type { InstanceStore } from './instanceStore.js';
import {
  MESSAGE_PREFIX,
  TASK_PREFIX,
  taskKey,
  type Completion,
  type InboundMessage,
  type InstanceRow,
} from './model.js';
import type { Instance, LiveTask } from './scheduler.js';
import { TERMINAL_STATUSES } from './types.js';
import { activityCompletion } from './worker.js';

/** What dispatch needs of the scheduler. */
export interface DispatchHost {
  readonly stopped: boolean;
  kick(id: string): void;
  peek(id: string): Instance | undefined;
  drop(id: string): void;
  purge(id: string): Promise<void>;
  deliver(d: Delivery): Promise<boolean>;
  newRow(name: string, input: string | null, parent?: Partial<InstanceRow>): InstanceRow;
  track(p: Promise<unknown>): void;
}

export interface DispatchOptions {
  store: InstanceStore;
  invoker: Invoker;
  clock: Clock;
  functions: DurableFunctions;
  activitySlots: Semaphore;
}

export class Dispatcher {
  readonly #store: InstanceStore;
  readonly #invoker: Invoker;
  readonly #clock: Clock;
  readonly #functions: DurableFunctions;
  readonly #activitySlots: Semaphore;
  readonly #host: DispatchHost;

  constructor(o: DispatchOptions, host: DispatchHost) {
    this.#store = o.store;
    this.#invoker = o.invoker;
    this.#clock = o.clock;
    this.#functions = o.functions;
    this.#activitySlots = o.activitySlots;
    this.#host = host;
  }

  /** Starts a task: runs an activity, sets a timer, starts a sub-orchestration or sends an entity request. */
  dispatch(inst: Instance, task: LiveTask): void {
    if (task.dispatched || task.completion || this.#host.stopped) return;
    task.dispatched = true;
    switch (task.kind) {
      case 'activity':
        this.#host.track(this.#runActivity(inst, task));
        break;
      case 'timer':
        task.cancelTimer = this.#clock.at(new Date(task.fireAt!), () => this.#host.kick(inst.id));
        break;
      case 'suborch':
        this.#host.track(this.#startChild(inst, task));
        break;
      case 'send':
        this.#host.track(this.#send(inst, task));
        break;
    }
  }

  async #runActivity(inst: Instance, task: LiveTask): Promise<void> {
    const executionId = inst.state?.executionId;
    const completion = await this.#activitySlots.run(async (): Promise<Completion> => {
      const entry = this.#functions.activities.get(task.name.toLowerCase());
      if (!entry) {
        return {
          ok: false,
          reason: `The function '${task.name}' doesn't exist, is disabled, or is not an activity function.`,
          details: '',
        };
      }
      const input = task.input === null ? {} : { string: task.input };
      const outcome = await this.#invoker.invoke(
        entry.fn,
        {
          inputData: [{ name: entry.trigger, data: input }],
          triggerMetadata: { instanceId: { string: inst.id } },
        },
        `(Activity of orchestration ${inst.id})`,
      );
      return activityCompletion(outcome, entry.fn.metadata.name);
    });
    // The result waits in memory for the next episode, which commits it with the history (at-least-once).
    const current = inst.tasks.get(task.key);
    if (inst.state?.executionId !== executionId || !current) return;
    current.completion = completion;
    this.#host.kick(inst.id);
  }

  async #startChild(parent: Instance, task: LiveTask): Promise<void> {
    const childId = task.childId!;
    const executionId = parent.state!.executionId;
    const existing = await this.#store.getInstance(childId);
    if (
      existing &&
      existing.ParentInstanceId === parent.id &&
      existing.ParentTaskScheduledId === task.sequenceId &&
      existing.ParentExecutionId === executionId
    ) {
      if (TERMINAL_STATUSES.has(existing.RuntimeStatus))
        await this.deliverChildResult(parent.id, executionId, task.sequenceId, existing);
      else this.#host.kick(childId);
      return;
    }
    if (existing && !TERMINAL_STATUSES.has(existing.RuntimeStatus)) {
      await this.#completeTask(parent.id, executionId, task.sequenceId, {
        ok: false,
        reason: `An orchestration with instance ID '${childId}' already exists and is still running.`,
        details: '',
      });
      return;
    }
    if (existing) await this.#host.purge(childId);
    await this.#store.createInstance(
      childId,
      this.#host.newRow(task.name, task.input, {
        ParentInstanceId: parent.id,
        ParentExecutionId: executionId,
        ParentTaskScheduledId: task.sequenceId,
        ParentName: parent.row?.Name ?? null,
      }),
    );
    this.#host.drop(childId);
    this.#host.kick(childId);
  }

  async deliverChildResult(
    parentId: string,
    executionId: string,
    taskId: number,
    child: InstanceRow,
  ): Promise<void> {
    const completion: Completion =
      child.RuntimeStatus === 'Completed'
        ? { ok: true, result: child.Output }
        : {
            ok: false,
            reason: child.Output ?? `Sub-orchestration ${child.RuntimeStatus.toLowerCase()}`,
            details: '',
          };
    await this.#completeTask(parentId, executionId, taskId, completion);
  }

  /** Records a durable completion (sub-orchestrations) on the parent's task row, then wakes the parent. */
  async #completeTask(
    instanceId: string,
    executionId: string,
    taskId: number,
    completion: Completion,
  ): Promise<void> {
    const key = taskKey(executionId, taskId);
    if (!(await this.#store.completeTask(instanceId, key, completion))) return;
    const task = this.#host.peek(instanceId)?.tasks.get(key);
    if (task) task.completion = completion;
    this.#host.kick(instanceId);
  }

  /** Delivers an entity request (signal or call) to the entity's partition; idempotent by request id. */
  async #send(inst: Instance, task: LiveTask): Promise<void> {
    const key = `${MESSAGE_PREFIX}${task.key.slice(TASK_PREFIX.length)}`;
    const message: InboundMessage = {
      key,
      kind: 'entityOp',
      name: task.name,
      input: task.message ?? null,
    };
    await this.#host.deliver({ to: task.target!, message });
    await this.#store.removeWork(inst.id, [task.key]);
    inst.tasks.delete(task.key);
    this.#host.kick(task.target!);
  }
}
