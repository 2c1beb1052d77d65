// One conformance suite for every InstanceStore: Table storage (on the test run's Azurite) and memory.
import { describe, expect, inject, it } from 'vitest';
import { event, EventType, type HistoryEvent } from './history.js';
import type { InstanceStore } from './instanceStore.js';
import { MemoryInstanceStore } from './memoryStore.js';
import {
  initialState,
  pendingRow,
  taskKey,
  type EpisodeResult,
  type InboundMessage,
  type PendingTask,
  type ReplayState,
} from './model.js';
import { TableInstanceStore } from './tableStore.js';

const T0 = new Date('2030-01-01T00:00:00.000Z');
let hubs = 0;

const stores: [string, () => InstanceStore][] = [
  ['Table storage', () => new TableInstanceStore(inject('storage'), `Conf${Date.now()}x${++hubs}`)],
  ['memory', () => new MemoryInstanceStore()],
];

function episode(
  state: ReplayState,
  events: HistoryEvent[],
  more: Partial<EpisodeResult> = {},
): EpisodeResult {
  return {
    state: { ...state, historyLength: state.historyLength + events.length },
    historyStart: state.historyLength,
    events,
    messageKeys: new Map(),
    newTasks: [],
    removedTasks: [],
    consumedMessages: [],
    instanceUpdate: {},
    at: T0,
    ...more,
  };
}

function activity(state: ReplayState, id: number, input: string | null = null): PendingTask {
  return {
    key: taskKey(state.executionId, id),
    sequenceId: id,
    kind: 'activity',
    name: 'work',
    input,
    episode: 1,
  };
}

const message = (
  key: string,
  kind: InboundMessage['kind'] = 'event',
  input: string | null = '1',
): InboundMessage => ({
  key: `~m~${key}`,
  kind,
  name: 'go',
  input,
});

describe.each(stores)('InstanceStore on %s', (_, make) => {
  async function open(): Promise<InstanceStore> {
    const store = make();
    await store.init();
    return store;
  }

  it('creates, reads, replaces and lists instances, entities left out, page by page', async () => {
    const store = await open();
    const row = pendingRow('orch', '"in"', T0, 'exec-1', store.hubName);
    expect(await store.createInstance('a/1', row)).toBe(true);
    expect(await store.createInstance('a/1', row)).toBe(false);
    expect(await store.getInstance('a/1')).toEqual(row);
    await store.putInstance('a/1', { ...row, RuntimeStatus: 'Completed', Output: '5' });
    expect(await store.getInstance('a/1')).toMatchObject({
      RuntimeStatus: 'Completed',
      Output: '5',
    });
    expect(await store.getInstance('missing')).toBeUndefined();
    await store.createInstance('a2', row);
    await store.createInstance('b', row);
    await store.createInstance('@counter@x', row);

    const running = await store.listInstances({ runtimeStatus: ['Pending'] }, 10, undefined);
    expect(running.instances.map((i) => i.id)).toEqual(['a2', 'b']);
    const prefixed = await store.listInstances({ instanceIdPrefix: 'a' }, 10, undefined);
    expect(prefixed.instances.map((i) => i.id).sort()).toEqual(['a/1', 'a2']);
    const seen: string[] = [];
    let token: string | undefined;
    do {
      const page = await store.listInstances({}, 2, token);
      seen.push(...page.instances.map((i) => i.id));
      token = page.continuationToken;
    } while (token);
    expect(seen.sort()).toEqual(['a/1', 'a2', 'b']);
  });

  it('commits episodes under a checkpoint and loads state, history, tasks and messages back', async () => {
    const store = await open();
    const state = initialState('exec-1');
    const events = [
      event(EventType.OrchestratorStarted, T0),
      event(EventType.ExecutionStarted, T0, { Name: 'o', Input: null }),
    ];
    const task = activity(state, 0, '"x"');
    const first = await store.commitEpisode(
      'i',
      episode(state, events, { newTasks: [task] }),
      undefined,
    );
    expect(first).not.toBe(false);
    expect(await store.commitEpisode('i', episode(state, events), undefined)).toBe(false);

    expect(await store.addMessage('i', message('1'))).toBe(true);
    expect(await store.addMessage('i', message('1'))).toBe(false);
    await store.putMessage('i', message('2', 'terminate', 'why'));
    expect(await store.completeTask('i', task.key, { ok: true, result: '7' })).toBe(true);
    expect(await store.completeTask('i', 'gone', { ok: true, result: null })).toBe(false);

    const loaded = await store.loadInstance('i');
    expect(loaded.checkpoint).toBe(first);
    expect(loaded.state).toEqual({ ...state, historyLength: 2 });
    expect(loaded.history.map((e) => e.EventType)).toEqual([
      EventType.OrchestratorStarted,
      EventType.ExecutionStarted,
    ]);
    expect(loaded.history[1]).toMatchObject({ Name: 'o', Input: null });
    expect(loaded.tasks).toEqual([
      { ...task, executionId: 'exec-1', completion: { ok: true, result: '7' } },
    ]);
    expect(loaded.messages).toEqual([message('1'), message('2', 'terminate', 'why')]);
    expect(await store.readHistory('i')).toEqual(loaded.history);

    // The next episode consumes the event and the task; a second one from the same checkpoint is refused.
    const raised = event(EventType.EventRaised, T0, { Name: 'go', Input: '1' });
    const next = episode(loaded.state!, [raised], {
      messageKeys: new Map([[raised, '~m~1']]),
      removedTasks: [task],
      consumedMessages: [message('1')],
    });
    expect(await store.commitEpisode('i', next, first as string)).not.toBe(false);
    expect(await store.commitEpisode('i', next, first as string)).toBe(false);
    const after = await store.loadInstance('i');
    expect(after.tasks).toEqual([]);
    expect(after.messages.map((m) => m.key)).toEqual(['~m~2']);
    expect(after.consumedMessageKeys.has('~m~1')).toBe(true);
    expect(after.history).toHaveLength(3);
  });

  it('reports message rows left over after their event was committed', async () => {
    const store = await open();
    await store.addMessage('i', message('1'));
    const raised = event(EventType.EventRaised, T0, { Name: 'go', Input: '1' });
    const result = episode(initialState('e'), [raised], {
      messageKeys: new Map([[raised, '~m~1']]),
    });
    await store.commitEpisode('i', result, undefined);
    const loaded = await store.loadInstance('i');
    expect(loaded.messages).toEqual([]);
    expect(loaded.leftoverMessageKeys).toEqual(['~m~1']);
    await store.removeWork('i', ['~m~1', '~m~never']);
    expect((await store.loadInstance('i')).leftoverMessageKeys).toEqual([]);
  });

  it('keeps a replay state and a history event far larger than one column', async () => {
    const store = await open();
    const state = initialState('exec-big');
    for (let i = 0; i < 1000; i++) {
      state.followUps[i] = {
        kind: 'retryAttempt',
        call: {
          target: 'activity',
          name: 'work',
          input: JSON.stringify('x'.repeat(260)),
          options: { firstRetryIntervalInMilliseconds: 1000, maxNumberOfAttempts: 3 },
          failedAttempts: 0,
        },
      };
    }
    const big = JSON.stringify('y'.repeat(100_000));
    const events = [event(EventType.TaskCompleted, T0, { TaskScheduledId: 0, Result: big })];
    const task = activity(state, 1, JSON.stringify('z'.repeat(70_000)));
    await store.commitEpisode('big', episode(state, events, { newTasks: [task] }), undefined);
    const loaded = await store.loadInstance('big');
    expect(loaded.state).toEqual({ ...state, historyLength: 1 });
    expect(loaded.history[0]?.Result).toBe(big);
    expect(loaded.tasks[0]?.input).toBe(task.input);
  });

  it('drops the old execution on continueAsNew and keeps entity state', async () => {
    const store = await open();
    const old = initialState('exec-old');
    const events = [
      event(EventType.OrchestratorStarted, T0),
      event(EventType.OrchestratorCompleted, T0),
    ];
    const c1 = await store.commitEpisode('i', episode(old, events), undefined);
    const next = { ...initialState('exec-new'), executionInput: '2' };
    await store.commitEpisode('i', { ...episode(next, []), discardedHistory: 2 }, c1 as string);
    const loaded = await store.loadInstance('i');
    expect(loaded.state?.executionId).toBe('exec-new');
    expect(loaded.history).toEqual([]);

    const op = message('op', 'entityOp', '{"op":"add"}');
    await store.addMessage('@counter@k', op);
    const e1 = await store.commitEntity(
      '@counter@k',
      { exists: true, state: '5' },
      [op],
      undefined,
    );
    expect(e1).not.toBe(false);
    expect(
      await store.commitEntity('@counter@k', { exists: true, state: '6' }, [], undefined),
    ).toBe(false);
    const entity = await store.loadInstance('@counter@k');
    expect(entity).toMatchObject({ entity: { exists: true, state: '5' }, messages: [] });
  });

  it('finds instances with work left, and purges', async () => {
    const store = await open();
    const row = pendingRow('orch', null, T0, 'e', store.hubName);
    await store.createInstance('open', row);
    await store.createInstance('done', { ...row, RuntimeStatus: 'Completed' });
    await store.addMessage('waiting', message('1'));
    const ids = await store.recoverableInstanceIds();
    expect(ids.has('open') && ids.has('waiting') && !ids.has('done')).toBe(true);
    await store.purge('open');
    await store.purge('waiting');
    expect(await store.getInstance('open')).toBeUndefined();
    expect((await store.loadInstance('waiting')).messages).toEqual([]);
    expect(await store.recoverableInstanceIds()).not.toContain('waiting');
  });
});
