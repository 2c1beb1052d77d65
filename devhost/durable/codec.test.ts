import { describe, expect, it } from 'vitest';
import {
  checkpointToRow,
  decodeLarge,
  encodeLarge,
  escapePartitionKey,
  eventToRow,
  ordinalKey,
  rowToEvent,
  stateFromCheckpoint,
  unescapePartitionKey,
} from './codec.js';
import { event, EventType } from './history.js';
import { initialState, type ReplayState } from './model.js';

describe('history rows', () => {
  it('round-trips events, putting back the nulls Table storage drops', () => {
    const at = new Date('2030-01-01T00:00:00Z');
    for (const e of [
      event(EventType.TaskCompleted, at, { TaskScheduledId: 3, Result: null }),
      event(EventType.EventRaised, at, { Name: 'Go', Input: null }),
      event(EventType.ExecutionStarted, at, {
        Name: 'o',
        Input: null,
        OrchestrationInstance: { InstanceId: 'i', ExecutionId: 'x' },
        ParentInstance: null,
      }),
    ]) {
      const row = eventToRow(e, 'exec');
      expect(Object.values(row)).not.toContain(null);
      expect(rowToEvent(row)).toMatchObject({ ...e });
    }
    const back = rowToEvent(
      eventToRow(event(EventType.TaskCompleted, at, { TaskScheduledId: 1, Result: null }), 'exec'),
    );
    expect(back.Result).toBeNull();
  });

  it('splits long strings across properties and joins them again', () => {
    const long = 'x'.repeat(70_000) + 'end';
    const encoded = encodeLarge({ Result: long, Name: 'short' });
    expect(typeof encoded.Result).toBe('string');
    expect((encoded.Result as string).length).toBeLessThanOrEqual(30_000);
    expect(decodeLarge(encoded)).toEqual({ Result: long, Name: 'short' });
  });

  it('escapes partition keys as the Azure Storage provider does', () => {
    const id = 'a/b\\c#d?e^f\u0001';
    expect(escapePartitionKey(id)).toBe('a^0b^1c^2d^3e^^f^\u00c1');
    expect(unescapePartitionKey(escapePartitionKey(id))).toBe(id);
    expect(ordinalKey(10)).toBe('000000000000000A');
  });

  it('reads back a replay state written across far more than eight columns', () => {
    // 1,000 retrying calls with ~260-character inputs: the state of the fan-out.
    const state: ReplayState = { ...initialState('exec'), nextSequenceId: 1000 };
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
    const row = checkpointToRow(state, new Date());
    expect(Object.keys(row).filter((k) => k.startsWith('State')).length).toBeGreaterThan(9);
    expect(stateFromCheckpoint(row)).toEqual(state);
  });

  it('reads states written before the part count and the field names of today', () => {
    const legacy = JSON.stringify({
      executionId: 'e',
      episode: 3,
      historyCount: 12,
      nextId: 4,
      seenTop: 2,
      units: 2,
      dynIds: [2, 3],
      open: {
        '3': {
          kind: 'retryTimer',
          retry: {
            fn: 'suborch',
            name: 'child',
            input: null,
            instanceId: 'c',
            options: { firstRetryIntervalInMilliseconds: 5, maxNumberOfAttempts: 2 },
            failures: 1,
            firstAttempt: 0,
          },
        },
        '9': { kind: 'longTimer', final: '2030-01-01T00:00:00.000Z', root: 1 },
      },
      carry: [{ name: 'go', input: '1' }],
      input: '"again"',
      status: 'Running',
      output: null,
      customStatus: 'null',
      pad: 'p'.repeat(40_000),
    });
    const columns = {
      State: legacy.slice(0, 30_000),
      State__1: legacy.slice(30_000),
    };
    expect(stateFromCheckpoint(columns)).toEqual({
      executionId: 'e',
      episode: 3,
      historyLength: 12,
      nextSequenceId: 4,
      scheduledActionCount: 2,
      hostSequenceIds: [2, 3],
      followUps: {
        '3': {
          kind: 'retryTimer',
          call: {
            target: 'subOrchestration',
            name: 'child',
            input: null,
            instanceId: 'c',
            options: { firstRetryIntervalInMilliseconds: 5, maxNumberOfAttempts: 2 },
            failedAttempts: 1,
          },
        },
        '9': { kind: 'longTimerLeg', fireAt: '2030-01-01T00:00:00.000Z', timerId: 1 },
      },
      carriedEvents: [{ name: 'go', input: '1' }],
      executionInput: '"again"',
      status: 'Running',
      output: null,
      customStatus: 'null',
    });
    expect(stateFromCheckpoint({})).toBeUndefined();
  });
});
