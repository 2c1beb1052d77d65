import { describe, expect, it } from 'vitest';
import {
  currentSlot,
  daysLeft,
  isTimeZone,
  localDate,
  slotForDay,
  slots,
  zonedInstant,
  type ReminderSchedule,
} from './reminders.js';

const source: ReminderSchedule = {
  deadline: '2019-10-15T23:59:59-07:00',
  timeZone: 'America/Los_Angeles',
  offsetsDays: [30, 14, 7, 3, 1],
  localHour: 8,
};

describe('reminder schedule (R-DUE-2)', () => {
  it("puts each offset at the local hour of the offset's local day, then one overdue notice", () => {
    expect(slots(source).map((s) => [s.key, s.dueAt])).toEqual([
      ['d30', '2019-09-15T15:00:00.000Z'],
      ['d14', '2019-10-01T15:00:00.000Z'],
      ['d7', '2019-10-08T15:00:00.000Z'],
      ['d3', '2019-10-12T15:00:00.000Z'],
      ['d1', '2019-10-14T15:00:00.000Z'],
      ['overdue', '2019-10-16T07:00:00.000Z'],
    ]);
  });

  it('keeps the local hour across the autumn DST change in Los Angeles', () => {
    const s = { ...source, deadline: '2019-11-05T23:59:59-08:00', offsetsDays: [3, 1] };
    expect(slots(s).map((x) => x.dueAt)).toEqual([
      '2019-11-02T15:00:00.000Z', // 08:00 PDT
      '2019-11-04T16:00:00.000Z', // 08:00 PST
      '2019-11-06T08:00:00.000Z',
    ]);
  });

  it('keeps the local hour across the autumn DST change in Amsterdam', () => {
    const s: ReminderSchedule = {
      deadline: '2019-10-29T23:59:59+01:00',
      timeZone: 'Europe/Amsterdam',
      offsetsDays: [7, 3, 1],
      localHour: 8,
    };
    expect(
      slots(s)
        .map((x) => x.dueAt)
        .slice(0, 3),
    ).toEqual([
      '2019-10-22T06:00:00.000Z', // 08:00 CEST
      '2019-10-26T06:00:00.000Z',
      '2019-10-28T07:00:00.000Z', // 08:00 CET
    ]);
  });

  it('resolves an hour skipped by spring-forward to the end of the gap, a repeated one to its first', () => {
    expect(zonedInstant('Europe/Amsterdam', 2019, 3, 31, 2).toISOString()).toBe(
      '2019-03-31T01:00:00.000Z',
    );
    expect(zonedInstant('Europe/Amsterdam', 2019, 10, 27, 2).toISOString()).toBe(
      '2019-10-27T00:00:00.000Z',
    );
    expect(zonedInstant('America/Los_Angeles', 2019, 3, 10, 2).toISOString()).toBe(
      '2019-03-10T10:00:00.000Z',
    );
  });

  it('sends only the latest due slot: a deadline already past means the overdue notice alone', () => {
    expect(currentSlot(source, new Date('2019-09-15T14:59:59Z'))).toBeUndefined();
    expect(currentSlot(source, new Date('2019-09-15T15:00:00Z'))?.key).toBe('d30');
    expect(currentSlot(source, new Date('2019-10-13T00:00:00Z'))?.key).toBe('d3');
    expect(currentSlot(source, new Date('2026-12-03T00:00:00Z'))?.key).toBe('overdue');
  });

  it("waits for today's slot when the sweep runs before its hour", () => {
    // 01:00 local on the d14 day: d14 is ahead today, so that is the day's slot.
    expect(slotForDay(source, new Date('2019-10-01T08:00:00Z'))).toMatchObject({
      key: 'd14',
      dueAt: '2019-10-01T15:00:00.000Z',
    });
    // An ordinary day: the latest slot already due.
    expect(slotForDay(source, new Date('2019-10-05T20:00:00Z'))?.key).toBe('d14');
  });

  it('counts days left in local days of the deadline zone', () => {
    expect(daysLeft(source, new Date('2019-10-15T06:59:59Z'))).toBe(1); // 23:59 on the 14th, local
    expect(daysLeft(source, new Date('2019-10-15T07:00:00Z'))).toBe(0);
    expect(daysLeft(source, new Date('2019-10-17T12:00:00Z'))).toBe(-2);
  });

  it('knows IANA zones from everything else', () => {
    expect(isTimeZone('Europe/Amsterdam')).toBe(true);
    expect(isTimeZone('UTC')).toBe(true);
    expect(isTimeZone('Mars/Olympus_Mons')).toBe(false);
    expect(isTimeZone('PST')).toBe(false);
    expect(isTimeZone('+02:00')).toBe(false);
    expect(localDate(new Date('2019-10-16T06:00:00Z'), 'America/Los_Angeles')).toBe('2019-10-15');
  });
});
