// Replay tests without processes: episodes of the pure core, from typed actions and history.
import { describe, expect, it } from 'vitest';
import {
  act,
  DAY,
  hist,
  ReplayInstance,
  returned,
  T0,
  types,
} from '../../../test/support/replay.js';
import { batchDeliveries, entityRequest } from '../entities.js';
import { EventType, type HistoryEvent } from '../history.js';
import { initialState } from '../model.js';
import { schedulingActions } from '../protocol.js';
import { checkDeterminism } from './determinism.js';
import { NonDeterminismError } from '../../errors.js';

const fail = { ok: false as const, reason: 'boom', details: '' };
const ok = (result: unknown) => ({ ok: true as const, result: JSON.stringify(result) });
const ids = (events: HistoryEvent[], type: EventType): number[] =>
  events.filter((e) => e.EventType === type).map((e) => e.EventId);

describe('sequence ids', () => {
  it('numbers new actions depth-first and finishes with the next id', () => {
    const inst = new ReplayInstance('i', 'orch', '"in"');
    const actions = [
      act.all(
        act.activity('A', 1),
        act.timer(new Date(T0.getTime() + 3_600_000)),
        act.activity('B'),
      ),
    ];
    const first = inst.episode(returned(actions));
    expect(types(first.events)).toEqual([
      'OrchestratorStarted',
      'ExecutionStarted',
      'TaskScheduled',
      'TimerCreated',
      'TaskScheduled',
      'OrchestratorCompleted',
    ]);
    expect(first.events[1]).toMatchObject({ Name: 'orch', Input: '"in"' });
    expect(ids(first.events, EventType.TaskScheduled)).toEqual([0, 2]);
    expect(first.newTasks.map((t) => [t.kind, t.sequenceId, t.input])).toEqual([
      ['activity', 0, '1'],
      ['timer', 1, null],
      ['activity', 2, null],
    ]);
    expect(inst.row.RuntimeStatus).toBe('Running');

    inst.complete(2, ok('b'));
    inst.complete(0, ok('a'));
    const second = inst.episode(returned(actions));
    expect(types(second.events)).toEqual([
      'OrchestratorStarted',
      'TaskCompleted',
      'TaskCompleted',
      'OrchestratorCompleted',
    ]);
    expect(second.events.map((e) => e.TaskScheduledId).filter((x) => x !== undefined)).toEqual([
      0, 2,
    ]);
    expect(second.newTasks).toEqual([]);

    inst.advance(3_600_000);
    const last = inst.episode(returned(actions, { output: 'done' }));
    expect(types(last.events)).toContain('TimerFired');
    const completed = last.events.find((e) => e.EventType === EventType.ExecutionCompleted);
    expect(completed).toMatchObject({ EventId: 3, Result: '"done"' });
    expect(inst.row).toMatchObject({ RuntimeStatus: 'Completed', Output: '"done"' });
    expect(inst.tasks.size).toBe(0);
  });
});

describe('retries', () => {
  const retry = { firstRetryIntervalInMilliseconds: 1000, maxNumberOfAttempts: 2 };

  it('waits a durable timer after a failed attempt, then schedules the next under host ids', () => {
    const inst = new ReplayInstance();
    const actions = [act.activityWithRetry('flaky', retry, 'x')];
    inst.episode(returned(actions));
    inst.complete(0, fail);
    const failed = inst.episode(returned(actions));
    expect(types(failed.events)).toEqual([
      'OrchestratorStarted',
      'TaskFailed',
      'TimerCreated',
      'OrchestratorCompleted',
    ]);
    expect(inst.task(1).fireAt).toBe(new Date(T0.getTime() + 1000).toISOString());

    inst.advance(1000);
    const retried = inst.episode(returned(actions));
    expect(types(retried.events)).toEqual([
      'OrchestratorStarted',
      'TimerFired',
      'TaskScheduled',
      'OrchestratorCompleted',
    ]);
    expect(retried.events[2]).toMatchObject({ EventId: 2, Name: 'flaky', Input: 'x' });
    expect(inst.state?.hostSequenceIds).toEqual([1, 2]);

    inst.complete(2, ok('fine'));
    inst.episode(returned(actions, { output: 'fine' }));
    expect(inst.row).toMatchObject({ RuntimeStatus: 'Completed', Output: '"fine"' });
  });

  it('delivers one id-allocating completion per episode, first, holding the others back', () => {
    const inst = new ReplayInstance();
    const actions = [
      act.all(
        act.activityWithRetry('a', retry),
        act.activity('plain'),
        act.activityWithRetry('b', retry),
      ),
    ];
    inst.episode(returned(actions));
    inst.complete(2, fail);
    inst.complete(0, fail);
    inst.complete(1, ok(1));
    const r = inst.episode(returned(actions));
    expect(r.events.map((e) => e.TaskScheduledId).filter((x) => x !== undefined)).toEqual([0, 1]);
    expect(ids(r.events, EventType.TimerCreated)).toEqual([3]);
    expect(inst.task(2).completion).toEqual(fail);

    const next = inst.episode(returned(actions));
    expect(next.events.find((e) => e.EventType === EventType.TaskFailed)?.TaskScheduledId).toBe(2);
    expect(ids(next.events, EventType.TimerCreated)).toEqual([4]);
  });
});

describe('long timers', () => {
  it('runs a 10-day timer as 3-day legs and fires it only at its time', () => {
    const inst = new ReplayInstance();
    const fireAt = new Date(T0.getTime() + 10 * DAY);
    const actions = [act.timer(fireAt)];
    const first = inst.episode(returned(actions));
    expect(first.events.find((e) => e.EventType === EventType.TimerCreated)?.FireAt).toBe(
      '2030-01-04T00:00:00.0000000Z',
    );
    inst.advance(3 * DAY);
    expect(ids(inst.episode(returned(actions)).events, EventType.TimerCreated)).toEqual([1]);
    inst.advance(3 * DAY);
    const third = inst.episode(returned(actions));
    expect(third.events.find((e) => e.EventType === EventType.TimerCreated)).toMatchObject({
      EventId: 2,
      FireAt: '2030-01-11T00:00:00.0000000Z',
    });
    inst.advance(3 * DAY);
    expect(inst.episode(returned(actions)).events).toEqual([]);
    inst.advance(DAY);
    const last = inst.episode(returned(actions, { output: 'late' }));
    expect(types(last.events)).not.toContain('TimerCreated');
    expect(inst.row.RuntimeStatus).toBe('Completed');
    expect(inst.state?.followUps).toEqual({});
  });

  it('drops every later leg of a long timer that lost a Task.any race', () => {
    const inst = new ReplayInstance();
    const fireAt = new Date(T0.getTime() + 10 * DAY);
    inst.episode(returned([act.any(act.timer(fireAt), act.waitFor('go'))]));
    inst.advance(3 * DAY);
    inst.episode(returned([act.any(act.timer(fireAt), act.waitFor('go'))]));
    expect(inst.task(1).kind).toBe('timer');
    inst.post('event', 'go', null);
    inst.episode(
      returned([act.any(act.timer(fireAt, true), act.waitFor('go')), act.activity('next')]),
    );
    expect([...inst.tasks.values()].map((t) => [t.kind, t.sequenceId])).toEqual([['activity', 2]]);
    expect(inst.state?.followUps).toEqual({});
  });
});

describe('determinism', () => {
  const recorded = (): ReplayInstance => {
    const history = [
      hist.orchestratorStarted(),
      hist.started('orchestrator'),
      hist.taskScheduled(0, 'Approve'),
      hist.orchestratorCompleted(),
    ];
    const state = {
      ...initialState('exec-1'),
      episode: 1,
      historyLength: history.length,
      nextSequenceId: 1,
      scheduledActionCount: 1,
    };
    const inst = ReplayInstance.recorded(state, history);
    inst.post('event', 'nudge', null);
    return inst;
  };

  it('fails the instance naming the expected and the found action', () => {
    const inst = recorded();
    const r = inst.episode(returned([act.activity('Reject')]));
    expect(types(r.events).slice(-2)).toEqual(['ExecutionCompleted', 'OrchestratorCompleted']);
    expect(inst.row.RuntimeStatus).toBe('Failed');
    expect(inst.row.Output).toContain(
      "scheduled activity 'Approve' with sequence ID 0, but the current replay execution scheduled activity 'Reject' instead",
    );
    expect(r.newTasks).toEqual([]);
  });

  it('fails when a recorded action is no longer scheduled, and matches names case-insensitively', () => {
    const missing = recorded();
    missing.episode(returned([]));
    expect(missing.row.Output).toContain("hasn't scheduled this task");
    const same = recorded();
    same.episode(returned([act.activity('approve')]));
    expect(same.row.RuntimeStatus).toBe('Running');
  });

  it('throws NonDeterminismError from the check itself', () => {
    const inst = recorded();
    expect(() =>
      checkDeterminism(schedulingActions([act.timer(T0)]), inst.state!, inst.history, false),
    ).toThrow(NonDeterminismError);
  });
});

describe('continueAsNew', () => {
  it('starts a new execution with the new input and the events nobody waited for', () => {
    const inst = new ReplayInstance('i', 'eternal', '0');
    const timer = act.timer(new Date(T0.getTime() + DAY));
    inst.episode(returned([timer, act.waitFor('tick')]));
    inst.post('event', 'tick', '1');
    inst.post('event', 'extra', '"keep"');
    const r = inst.episode(
      returned([timer, act.waitFor('tick'), act.continueAsNew(1)], { done: true }),
    );
    expect(r.events).toEqual([]);
    expect(r.discardedHistory).toBe(4);
    expect(r.removedTasks.map((t) => t.sequenceId)).toEqual([0]);
    expect(r.state).toMatchObject({
      executionId: 'exec-2',
      historyLength: 0,
      executionInput: '1',
      carriedEvents: [{ name: 'extra', input: '"keep"' }],
    });
    expect(inst.row).toMatchObject({ Input: '1', Generation: 1, ExecutionId: 'exec-2' });

    const next = inst.episode(returned([act.waitFor('extra')]));
    expect(types(next.events)).toEqual([
      'OrchestratorStarted',
      'ExecutionStarted',
      'EventRaised',
      'OrchestratorCompleted',
    ]);
    expect(next.events[1]).toMatchObject({ Input: '1', Generation: 1 });
    expect(next.events[2]).toMatchObject({ Name: 'extra', Input: '"keep"' });
    expect(next.state.carriedEvents).toBeUndefined();
  });
});

describe('entities and control', () => {
  it('sends an entity call as EventSent and receives the reply as the event named by its request id', () => {
    const inst = new ReplayInstance();
    const actions = [act.callEntity('@counter@a', 'add', 5)];
    const r = inst.episode(returned(actions));
    const sent = r.events.find((e) => e.EventType === EventType.EventSent)!;
    expect(sent).toMatchObject({ EventId: 0, InstanceId: '@counter@a', Name: 'op' });
    expect(JSON.parse(String(sent.Input))).toEqual({
      op: 'add',
      input: '5',
      id: 'req-1',
      parent: 'instance',
      parentExecution: 'exec-1',
    });
    const task = inst.task(0);
    expect(task).toMatchObject({ kind: 'send', target: '@counter@a' });

    const op = { key: '~m~op', kind: 'entityOp' as const, name: 'add', input: task.message! };
    const [reply] = batchDeliveries([op], [entityRequest(op)], {
      results: [{ result: '6' }],
      signals: [],
      next: { exists: true, state: '6' },
    });
    expect(reply).toMatchObject({ to: 'instance', message: { kind: 'event', name: 'req-1' } });
    inst.messages.push(reply!.message);
    const back = inst.episode(returned(actions, { output: 6 }));
    expect(back.events.find((e) => e.EventType === EventType.EventRaised)).toMatchObject({
      Name: 'req-1',
      Input: '{"result":"6"}',
    });
  });

  it('terminates at once, leaving no work behind, without a replay', () => {
    const inst = new ReplayInstance();
    inst.episode(returned([act.activity('slow')]));
    inst.post('event', 'ignored', null);
    inst.post('terminate', '', 'stop');
    const r = inst.episode(undefined);
    expect(types(r.events)).toEqual([
      'OrchestratorStarted',
      'ExecutionTerminated',
      'ExecutionCompleted',
      'OrchestratorCompleted',
    ]);
    expect(inst.row).toMatchObject({ RuntimeStatus: 'Terminated', Output: 'stop' });
    expect(inst.tasks.size).toBe(0);
    expect(inst.messages).toEqual([]);
  });

  it('holds events while suspended and delivers them after resume', () => {
    const inst = new ReplayInstance();
    inst.episode(returned([act.waitFor('go')]));
    inst.post('suspend', '', 'pause');
    const suspended = inst.episode(undefined);
    expect(types(suspended.events)).toEqual(['ExecutionSuspended']);
    inst.post('event', 'go', null);
    expect(inst.episode(undefined).events).toEqual([]);
    expect(inst.row.RuntimeStatus).toBe('Suspended');
    inst.post('resume', '', 'carry on');
    const resumed = inst.episode(returned([act.waitFor('go')], { output: 'went' }));
    expect(types(resumed.events).slice(0, 3)).toEqual([
      'OrchestratorStarted',
      'ExecutionResumed',
      'EventRaised',
    ]);
    expect(inst.row.RuntimeStatus).toBe('Completed');
  });
});
