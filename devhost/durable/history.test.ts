import { describe, expect, it } from 'vitest';
import {
  decodeLarge,
  encodeLarge,
  escapePartitionKey,
  event,
  EventType,
  eventToRow,
  ordinalKey,
  rowToEvent,
  unescapePartitionKey,
} from './history.js';

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
});
