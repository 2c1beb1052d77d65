// Unit tests for timer schedules: NCRONTAB and TimeSpan parsing, next occurrences, DST, the past-due check, TimerInfo JSON.
import { describe, expect, test } from 'vitest';
import {
  MAX_DATE,
  MIN_DATE,
  checkPastDue,
  parseSchedule,
  statusAfterInvocation,
  timerInfoJson,
  type ScheduleStatus,
  type TimerSchedule,
} from './schedule.js';
import { ScheduleError } from '../errors.js';

const utc = (expression: string, extra: { useMonitor?: boolean } = {}) =>
  parseSchedule(expression, { env: {}, timeZone: 'UTC', ...extra });

/** The first `n` occurrences after `start`, as ISO strings. */
function runs(schedule: TimerSchedule, start: string, n: number): string[] {
  const out: string[] = [];
  let at = new Date(start);
  for (let i = 0; i < n; i++) {
    at = schedule.next(at);
    out.push(at.toISOString());
  }
  return out;
}

const iso = (s: string) => new Date(s).toISOString();

describe('cron expressions (UTC)', () => {
  test('every second, and next is strictly after, ignoring milliseconds like NCrontab', () => {
    const s = utc('* * * * * *');
    expect(s.next(new Date('2024-01-01T00:00:00.000Z')).toISOString()).toBe(
      '2024-01-01T00:00:01.000Z',
    );
    expect(s.next(new Date('2024-01-01T00:00:00.999Z')).toISOString()).toBe(
      '2024-01-01T00:00:01.000Z',
    );
  });

  test('seconds field', () => {
    expect(runs(utc('15,45 * * * * *'), '2024-01-01T00:00:00Z', 3)).toEqual([
      iso('2024-01-01T00:00:15Z'),
      iso('2024-01-01T00:00:45Z'),
      iso('2024-01-01T00:01:15Z'),
    ]);
  });

  test('fixed time of day', () => {
    expect(runs(utc('0 30 9 * * *'), '2024-01-01T10:00:00Z', 2)).toEqual([
      iso('2024-01-02T09:30:00Z'),
      iso('2024-01-03T09:30:00Z'),
    ]);
  });

  test('steps: */n, a-b/n and a/n (= a-max/n)', () => {
    expect(runs(utc('0 */15 * * * *'), '2024-01-01T00:00:00Z', 3)).toEqual([
      iso('2024-01-01T00:15:00Z'),
      iso('2024-01-01T00:30:00Z'),
      iso('2024-01-01T00:45:00Z'),
    ]);
    expect(runs(utc('0 0 8-17/4 * * *'), '2024-01-01T00:00:00Z', 4)).toEqual([
      iso('2024-01-01T08:00:00Z'),
      iso('2024-01-01T12:00:00Z'),
      iso('2024-01-01T16:00:00Z'),
      iso('2024-01-02T08:00:00Z'),
    ]);
    expect(runs(utc('0 50/5 * * * *'), '2024-01-01T00:00:00Z', 3)).toEqual([
      iso('2024-01-01T00:50:00Z'),
      iso('2024-01-01T00:55:00Z'),
      iso('2024-01-01T01:50:00Z'),
    ]);
  });

  test('lists mixing values, ranges and steps', () => {
    expect(runs(utc('0 0 1,3-4,20/2 * * *'), '2024-01-01T00:00:00Z', 6)).toEqual([
      iso('2024-01-01T01:00:00Z'),
      iso('2024-01-01T03:00:00Z'),
      iso('2024-01-01T04:00:00Z'),
      iso('2024-01-01T20:00:00Z'),
      iso('2024-01-01T22:00:00Z'),
      iso('2024-01-02T01:00:00Z'),
    ]);
  });

  test('a reversed range is swapped (NCrontab), not rejected', () => {
    expect(utc('0 0 0 * * Fri-Mon').next(new Date('2024-01-01T12:00:00Z'))).toEqual(
      utc('0 0 0 * * 1-5').next(new Date('2024-01-01T12:00:00Z')),
    );
  });

  test('month and weekday names, any case, any prefix', () => {
    // 2024-01-01 is a Monday.
    expect(runs(utc('0 0 12 * Jan-Mar Mon-Fri'), '2024-01-05T13:00:00Z', 2)).toEqual([
      iso('2024-01-08T12:00:00Z'),
      iso('2024-01-09T12:00:00Z'),
    ]);
    expect(utc('0 0 0 * * tu').next(new Date('2024-01-01T00:00:00Z'))).toEqual(
      new Date('2024-01-02T00:00:00Z'),
    );
    expect(utc('0 0 0 * * MONDAY').next(new Date('2024-01-02T00:00:00Z'))).toEqual(
      new Date('2024-01-08T00:00:00Z'),
    );
    // "Ju" is June (first name with that prefix), "J" January.
    expect(utc('0 0 0 1 Ju *').next(new Date('2024-01-01T00:00:00Z'))).toEqual(
      new Date('2024-06-01T00:00:00Z'),
    );
    expect(utc('0 0 0 1 j *').next(new Date('2024-03-01T00:00:00Z'))).toEqual(
      new Date('2025-01-01T00:00:00Z'),
    );
  });

  test('weekday 0 is Sunday', () => {
    expect(utc('0 0 0 * * 0').next(new Date('2024-01-01T00:00:00Z'))).toEqual(
      new Date('2024-01-07T00:00:00Z'),
    );
  });

  test('day-of-month AND day-of-week must both match (NCrontab, not Vixie OR)', () => {
    expect(runs(utc('0 0 0 13 * Fri'), '2024-01-01T00:00:00Z', 3)).toEqual([
      iso('2024-09-13T00:00:00Z'),
      iso('2024-12-13T00:00:00Z'),
      iso('2025-06-13T00:00:00Z'),
    ]);
  });

  test('day-of-month alone skips short months', () => {
    expect(runs(utc('0 0 0 31 * *'), '2024-01-31T12:00:00Z', 2)).toEqual([
      iso('2024-03-31T00:00:00Z'),
      iso('2024-05-31T00:00:00Z'),
    ]);
  });

  test('5 fields are minute-level crontab with second 0 (CronSchedule.HasSeconds)', () => {
    const s = utc('*/5 * * * *');
    expect(s.kind).toBe('cron');
    expect(runs(s, '2024-01-01T00:01:30Z', 2)).toEqual([
      iso('2024-01-01T00:05:00Z'),
      iso('2024-01-01T00:10:00Z'),
    ]);
    expect(utc('30 9 * * 1-5').next(new Date('2024-01-06T00:00:00Z'))).toEqual(
      new Date('2024-01-08T09:30:00Z'),
    );
  });

  test('extra spaces between fields are ignored', () => {
    expect(utc('  0   0  12 * * *  ').next(new Date('2024-01-01T00:00:00Z'))).toEqual(
      new Date('2024-01-01T12:00:00Z'),
    );
  });

  test('a schedule that never matches answers MAX_DATE', () => {
    expect(utc('0 0 0 30 Feb *').next(new Date('2024-01-01T00:00:00Z'))).toEqual(MAX_DATE);
  });

  test('kind, expression and AdjustForDST', () => {
    const s = utc('0 0 * * * *');
    expect([s.kind, s.expression, s.adjustForDST, s.timeZone]).toEqual([
      'cron',
      '0 0 * * * *',
      true,
      'UTC',
    ]);
  });
});

describe('cron expressions in a zone with DST (America/Los_Angeles, vectors from CronScheduleTests.cs)', () => {
  const la = (expression: string) =>
    parseSchedule(expression, { env: {}, timeZone: 'America/Los_Angeles' });

  test('interval into DST: 02:30 does not exist, 03:30 follows 01:30', () => {
    expect(runs(la('0 30 * * * *'), '2018-03-11T00:00:00-08:00', 5)).toEqual([
      iso('2018-03-11T00:30:00-08:00'),
      iso('2018-03-11T01:30:00-08:00'),
      iso('2018-03-11T03:30:00-07:00'),
      iso('2018-03-11T04:30:00-07:00'),
      iso('2018-03-11T05:30:00-07:00'),
    ]);
  });

  test('point in time into DST keeps local 01:30', () => {
    expect(runs(la('0 30 1 * * *'), '2018-03-10T00:00:00-08:00', 3)).toEqual([
      iso('2018-03-10T01:30:00-08:00'),
      iso('2018-03-11T01:30:00-08:00'),
      iso('2018-03-12T01:30:00-07:00'),
    ]);
  });

  test('a point in time inside the spring-forward gap runs an hour later (standard offset)', () => {
    expect(runs(la('0 30 2 * * *'), '2018-03-10T03:00:00-08:00', 2)).toEqual([
      iso('2018-03-11T03:30:00-07:00'),
      iso('2018-03-12T02:30:00-07:00'),
    ]);
  });

  test('interval out of DST runs through both copies of the repeated hour', () => {
    expect(runs(la('0 30 * * * *'), '2018-11-04T00:00:00-07:00', 5)).toEqual([
      iso('2018-11-04T00:30:00-07:00'),
      iso('2018-11-04T01:30:00-07:00'),
      iso('2018-11-04T01:30:00-08:00'),
      iso('2018-11-04T02:30:00-08:00'),
      iso('2018-11-04T03:30:00-08:00'),
    ]);
    expect(runs(la('0 */20 * * * *'), '2018-11-04T00:30:00-07:00', 9)).toEqual([
      iso('2018-11-04T00:40:00-07:00'),
      iso('2018-11-04T01:00:00-07:00'),
      iso('2018-11-04T01:20:00-07:00'),
      iso('2018-11-04T01:40:00-07:00'),
      iso('2018-11-04T01:00:00-08:00'),
      iso('2018-11-04T01:20:00-08:00'),
      iso('2018-11-04T01:40:00-08:00'),
      iso('2018-11-04T02:00:00-08:00'),
      iso('2018-11-04T02:20:00-08:00'),
    ]);
  });

  test('point in time out of DST runs once, at the daylight-time copy', () => {
    expect(runs(la('0 30 1 * * *'), '2018-11-03T00:00:00-07:00', 4)).toEqual([
      iso('2018-11-03T01:30:00-07:00'),
      iso('2018-11-04T01:30:00-07:00'),
      iso('2018-11-05T01:30:00-08:00'),
      iso('2018-11-06T01:30:00-08:00'),
    ]);
  });

  test('starting inside the repeated hour in standard time skips the second copy', () => {
    expect(la('0 30 1 * * *').next(new Date('2018-11-04T01:29:00-08:00'))).toEqual(
      new Date('2018-11-05T01:30:00-08:00'),
    );
  });

  test('interval vs point in time is judged on normalised fields: */30 minutes is a list', () => {
    // NCrontab prints minute */30 as "0,30": no '*', '-' or '/', so this is a point-in-time schedule.
    expect(runs(la('0 */30 1 * * *'), '2018-11-04T00:59:00-07:00', 3)).toEqual([
      iso('2018-11-04T01:00:00-07:00'),
      iso('2018-11-04T01:30:00-07:00'),
      iso('2018-11-05T01:00:00-08:00'),
    ]);
  });
});

describe('time zones', () => {
  test('undefined means the process zone', () => {
    const s = parseSchedule('0 0 0 * * *', { env: {} });
    expect(s.timeZone).toBe(new Intl.DateTimeFormat().resolvedOptions().timeZone);
  });

  test('cron fields are read in the given zone', () => {
    const s = parseSchedule('0 0 9 * * *', { env: {}, timeZone: 'Europe/Paris' });
    expect(s.next(new Date('2024-01-01T00:00:00Z'))).toEqual(new Date('2024-01-01T08:00:00Z'));
    expect(s.next(new Date('2024-07-01T00:00:00Z'))).toEqual(new Date('2024-07-01T07:00:00Z'));
  });

  test('an unknown zone is a ScheduleError', () => {
    expect(() =>
      parseSchedule('0 0 9 * * *', { env: {}, timeZone: 'Pacific Standard Time' }),
    ).toThrow(ScheduleError);
  });
});

describe('TimeSpan schedules', () => {
  test.each([
    ['00:05:00', 5 * 60_000],
    ['01:30', 90 * 60_000],
    ['1.02:03:04', ((26 * 60 + 3) * 60 + 4) * 1000],
    ['1:02:03:04', ((26 * 60 + 3) * 60 + 4) * 1000],
    ['2.03:00', 51 * 3_600_000],
    ['00:00:01.5', 1500],
    ['1.00:00:00.25', 86_400_000 + 250],
    ['7', 7 * 86_400_000],
    [' 00:10:00 ', 10 * 60_000],
  ])('%j is a constant interval of %d ms', (expression, ms) => {
    const s = utc(expression);
    expect([s.kind, s.adjustForDST]).toEqual(['timespan', false]);
    const at = new Date('2024-03-10T10:00:00.123Z');
    expect(s.next(at).getTime() - at.getTime()).toBe(ms);
  });

  test('intervals are elapsed time, not wall time, across DST', () => {
    const s = parseSchedule('01:00:00', { env: {}, timeZone: 'America/Los_Angeles' });
    expect(s.next(new Date('2018-03-11T01:30:00-08:00'))).toEqual(
      new Date('2018-03-11T03:30:00-07:00'),
    );
  });

  test.each(['24:00:00', '00:60:00', '00:00:60', '1.24:00', '00:00:00.12345678', '1:2:3:4:5'])(
    '%j is not a TimeSpan',
    (expression) => {
      expect(() => utc(expression)).toThrow(/was not recognized/);
    },
  );

  test.each(['00:00:00', '-00:05:00'])('%j (zero or negative) is refused', (expression) => {
    expect(() => utc(expression)).toThrow(/fire it continuously/);
  });
});

describe('%Setting% substitution', () => {
  test('a whole-string setting', () => {
    const s = parseSchedule('%CleanupSchedule%', {
      env: { CleanupSchedule: '0 0 3 * * *' },
      timeZone: 'UTC',
    });
    expect(s.expression).toBe('0 0 3 * * *');
    expect(s.next(new Date('2024-01-01T00:00:00Z'))).toEqual(new Date('2024-01-01T03:00:00Z'));
  });

  test('tokens inside the string are replaced too (ResolveWholeString)', () => {
    const s = parseSchedule('0 %Minute% %Hour% * * *', {
      env: { Minute: '15', Hour: '4' },
      timeZone: 'UTC',
    });
    expect(s.expression).toBe('0 15 4 * * *');
  });

  test('a setting holding a TimeSpan', () => {
    expect(parseSchedule('%Every%', { env: { Every: '00:10:00' } }).kind).toBe('timespan');
  });

  test('a missing setting names it', () => {
    expect(() => parseSchedule('%CleanupSchedule%', { env: {} })).toThrow(
      new ScheduleError("'%CleanupSchedule%' does not resolve to a value."),
    );
  });

  test('an unclosed % is an error', () => {
    expect(() => parseSchedule('0 0 %Hour * * *', { env: {} })).toThrow(
      "The '%' at position 4 does not have a closing '%'",
    );
  });

  test('an empty setting is then not a valid expression', () => {
    expect(() => parseSchedule('%S%', { env: { S: '' } })).toThrow(
      "The schedule expression '' was not recognized as a valid cron expression or timespan string.",
    );
  });
});

describe('invalid expressions', () => {
  test.each([
    '',
    'every 5 minutes',
    '* * * *',
    '* * * * * * *',
    '60 * * * * *',
    '0 60 * * * *',
    '0 0 24 * * *',
    '0 0 0 0 * *',
    '0 0 0 32 * *',
    '0 0 0 * 0 *',
    '0 0 0 * 13 *',
    '0 0 0 * * 7',
    '0 0 0 * * Funday',
    '0 0 0 * Smarch *',
    '0 0 0 ? * *',
    '0 0 0 L * *',
    '0 0 0 * * MON#2',
    '0 0 0 15W * *',
    '@daily',
    '*/ * * * * *',
    '/5 * * * * *',
    '1,,2 * * * * *',
    ',1 * * * * *',
    '1- * * * * *',
    '1-2-3 * * * * *',
    '0\t0 * * * *',
  ])('%j', (expression) => {
    expect(() => utc(expression)).toThrow(
      new ScheduleError(
        `The schedule expression '${expression}' was not recognized as a valid cron expression or timespan string.`,
      ),
    );
  });
});

describe('useMonitor', () => {
  test('defaults to true and follows the binding', () => {
    expect(utc('0 */5 * * * *').useMonitor).toBe(true);
    expect(utc('0 */5 * * * *', { useMonitor: false }).useMonitor).toBe(false);
    expect(utc('00:05:00', { useMonitor: false }).useMonitor).toBe(false);
  });

  test.each([
    ['*/30 * * * * *', false],
    ['* * * * * *', false],
    ['0,1 * * * * *', false],
    ['0 * * * * *', true],
    ['15 * * * * *', true],
    // Host quirk: only all-'*' minute..weekday fields are examined, so this keeps its monitor.
    ['*/10 * 5 * * *', true],
    // 5-field schedules never fire more than once a minute.
    ['* * * * *', true],
    ['00:00:30', false],
    ['00:00:59.999', false],
    ['00:01:00', true],
  ])('%j -> %j', (expression, expected) => {
    expect(utc(expression).useMonitor).toBe(expected);
  });
});

describe('checkPastDue', () => {
  const every5 = utc('0 */5 * * * *');
  const status = (last: string | Date, next: string, lastUpdated: string | Date) => ({
    last: new Date(last),
    next: new Date(next),
    lastUpdated: new Date(lastUpdated),
  });

  test('first start: status created, next from now, not past due', () => {
    const now = new Date('2024-01-01T00:02:00Z');
    expect(checkPastDue(null, every5, now)).toEqual({
      pastDue: false,
      status: { last: MIN_DATE, next: new Date('2024-01-01T00:05:00Z'), lastUpdated: now },
    });
  });

  test('restart before the recorded next: on time', () => {
    const stored = status('2024-01-01T00:00:00Z', '2024-01-01T00:05:00Z', '2024-01-01T00:00:00Z');
    const result = checkPastDue(stored, every5, new Date('2024-01-01T00:03:00Z'));
    expect(result).toEqual({ pastDue: false, status: stored });
    expect(result.status).not.toBe(stored);
  });

  test('restart after the recorded next: past due, status kept', () => {
    const stored = status('2024-01-01T00:00:00Z', '2024-01-01T00:05:00Z', '2024-01-01T00:00:00Z');
    expect(checkPastDue(stored, every5, new Date('2024-01-01T01:00:00Z'))).toEqual({
      pastDue: true,
      status: stored,
    });
  });

  test('exactly at next is not past due (strictly later is)', () => {
    const stored = status('2024-01-01T00:00:00Z', '2024-01-01T00:05:00Z', '2024-01-01T00:00:00Z');
    expect(checkPastDue(stored, every5, new Date('2024-01-01T00:05:00Z')).pastDue).toBe(false);
  });

  test('never fired: next is checked against lastUpdated, and can be past due', () => {
    const stored = status(MIN_DATE, '2024-01-01T00:05:00Z', '2024-01-01T00:02:00Z');
    expect(checkPastDue(stored, every5, new Date('2024-01-01T00:06:00Z'))).toEqual({
      pastDue: true,
      status: stored,
    });
  });

  test('schedule changed, new next still ahead: recorded from last, not past due', () => {
    const stored = status('2024-01-01T00:00:00Z', '2024-01-01T00:05:00Z', '2024-01-01T00:00:00Z');
    const hourly = utc('0 0 * * * *');
    expect(checkPastDue(stored, hourly, new Date('2024-01-01T00:30:00Z'))).toEqual({
      pastDue: false,
      status: status(MIN_DATE, '2024-01-01T01:00:00Z', '2024-01-01T00:00:00Z'),
    });
  });

  test('schedule changed, new next already past: recomputed from now, not past due', () => {
    const stored = status('2024-01-01T00:00:00Z', '2024-01-01T01:00:00Z', '2024-01-01T00:00:00Z');
    const now = new Date('2024-01-01T00:42:00Z');
    expect(checkPastDue(stored, every5, now)).toEqual({
      pastDue: false,
      status: { last: MIN_DATE, next: new Date('2024-01-01T00:45:00Z'), lastUpdated: now },
    });
  });

  test('neither last nor lastUpdated known: computed from now', () => {
    const stored = status(MIN_DATE, '2024-01-01T00:05:00Z', MIN_DATE);
    const now = new Date('2024-01-01T00:07:00Z');
    expect(checkPastDue(stored, every5, now)).toEqual({
      pastDue: false,
      status: { last: MIN_DATE, next: new Date('2024-01-01T00:10:00Z'), lastUpdated: now },
    });
  });

  test('a sentinel written as local time west of UTC is still recognised', () => {
    const westernMin = new Date('0001-01-01T08:00:00Z');
    const stored = status(westernMin, '2024-01-01T00:05:00Z', '2024-01-01T00:02:00Z');
    expect(checkPastDue(stored, every5, new Date('2024-01-01T00:03:00Z')).status).toEqual(stored);
  });

  test('TimeSpan schedules: next = last + interval', () => {
    const every10 = utc('00:10:00');
    const stored = status(
      '2024-01-01T00:00:07.250Z',
      '2024-01-01T00:10:07.250Z',
      '2024-01-01T00:00:07.250Z',
    );
    expect(checkPastDue(stored, every10, new Date('2024-01-01T00:11:00Z'))).toEqual({
      pastDue: true,
      status: stored,
    });
  });
});

describe('statusAfterInvocation', () => {
  const every5 = utc('0 */5 * * * *');
  const previous: ScheduleStatus = {
    last: new Date('2024-01-01T00:00:00Z'),
    next: new Date('2024-01-01T00:05:00Z'),
    lastUpdated: new Date('2024-01-01T00:00:00Z'),
  };

  test('a scheduled run that fired early counts as run at its scheduled time', () => {
    const at = new Date('2024-01-01T00:05:00Z');
    expect(
      statusAfterInvocation(every5, previous, new Date('2024-01-01T00:04:59.900Z'), 'schedule'),
    ).toEqual({
      last: at,
      next: new Date('2024-01-01T00:10:00Z'),
      lastUpdated: at,
    });
  });

  test('past-due and run-on-startup runs use the real time', () => {
    const at = new Date('2024-01-01T00:03:10Z');
    for (const reason of ['pastDue', 'runOnStartup'] as const) {
      expect(statusAfterInvocation(every5, previous, at, reason)).toEqual({
        last: at,
        next: new Date('2024-01-01T00:05:00Z'),
        lastUpdated: at,
      });
    }
  });
});

describe('timerInfoJson', () => {
  const status: ScheduleStatus = {
    last: new Date('2024-01-01T00:00:00.0096Z'),
    next: new Date('2024-01-01T00:05:00Z'),
    lastUpdated: new Date('2024-01-01T00:00:00.0096Z'),
  };

  test('PascalCase, Json.NET local-date form, as the host sends it', () => {
    expect(timerInfoJson(utc('0 */5 * * * *'), status, false)).toBe(
      '{"Schedule":{"AdjustForDST":true},"ScheduleStatus":{"Last":"2024-01-01T00:00:00.009+00:00",' +
        '"Next":"2024-01-01T00:05:00+00:00","LastUpdated":"2024-01-01T00:00:00.009+00:00"},"IsPastDue":false}',
    );
  });

  test('dates are wall time in the schedule zone with its offset', () => {
    const paris = parseSchedule('0 */5 * * * *', { env: {}, timeZone: 'Europe/Paris' });
    const json = JSON.parse(timerInfoJson(paris, status, true)) as {
      ScheduleStatus: { Next: string };
      IsPastDue: boolean;
    };
    expect(json.ScheduleStatus.Next).toBe('2024-01-01T01:05:00+01:00');
    expect(json.IsPastDue).toBe(true);
  });

  test('first-run sentinel', () => {
    const json = JSON.parse(
      timerInfoJson(utc('0 */5 * * * *'), { ...status, last: MIN_DATE }, false),
    ) as { ScheduleStatus: { Last: string } };
    expect(json.ScheduleStatus.Last).toBe('0001-01-01T00:00:00+00:00');
  });

  test('ScheduleStatus is null when the monitor is off, whatever is passed', () => {
    expect(timerInfoJson(utc('*/10 * * * * *'), status, false)).toBe(
      '{"Schedule":{"AdjustForDST":true},"ScheduleStatus":null,"IsPastDue":false}',
    );
    expect(timerInfoJson(utc('00:05:00'), null, false)).toBe(
      '{"Schedule":{"AdjustForDST":false},"ScheduleStatus":null,"IsPastDue":false}',
    );
  });
});
