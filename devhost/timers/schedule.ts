// Timer trigger schedules (NCRONTAB or TimeSpan), their next occurrences and the start-up past-due check, as the Functions host computes them.
import { Cron } from 'croner';
import { ScheduleError } from '../errors.js';
import {
  cronerPattern,
  firesMoreThanOncePerMinute,
  isIntervalSchedule,
  parseNcrontab,
  parseNetTimeSpan,
  type ParsedCron,
} from './ncrontab.js';
import { MAX_DATE, MIN_DATE, Zone } from './zone.js';

export { MAX_DATE, MIN_DATE };

/** A parsed `schedule` binding value; `next` is a pure function of its argument (no clock reads). */
export interface TimerSchedule {
  readonly kind: 'cron' | 'timespan';
  /** The expression after `%Setting%` substitution. */
  readonly expression: string;
  /** What `TimerInfo.Schedule.AdjustForDST` carries: true for cron, false for a TimeSpan. */
  readonly adjustForDST: boolean;
  /** The binding's `useMonitor` (default true), forced false for sub-minute schedules (see `parseSchedule`). */
  readonly useMonitor: boolean;
  /** The IANA zone cron fields are read in (ignored by TimeSpan schedules, which are plain intervals). */
  readonly timeZone: string;
  /** The next occurrence strictly after `after`. */
  next(after: Date): Date;
}

/**
 * Parses a timer binding's `schedule` the way `TimerSchedule.Create` does.
 *
 * - `%Name%` tokens are replaced by `env[Name]` first. Like WebJobs' `ResolveWholeString`, every token
 *   anywhere in the string is replaced (`0 0 %Hour% * * *` works), not only a whole-string one.
 * - Then NCrontab (v3.3.3, as the extension ships it): exactly 5 space-separated fields are a classic
 *   minute-level crontab (seconds = 0; `CronSchedule.HasSeconds` has accepted this since 2017), any other
 *   count must be 6 fields `{second} {minute} {hour} {day} {month} {day-of-week}`. Fields take `*`,
 *   numbers, `a-b` (reversed ranges are swapped), steps `*\/n`, `a-b/n` and `a/n` (= `a-max/n`), lists,
 *   and month/weekday names or any prefix of them (`Jan`, `Mon`, `Tu`, `Monday`), weekdays 0-6 with
 *   0 = Sunday (7 is rejected). No `?`, `L`, `W`, `#` or `@daily`. Day-of-month and day-of-week must
 *   BOTH match (NCrontab), unlike Vixie cron's OR: `0 0 0 13 * Fri` is Friday the 13th only.
 * - Otherwise a .NET `TimeSpan` (`d`, `hh:mm`, `hh:mm:ss`, `d.hh:mm[:ss]`, `d:hh:mm:ss`, `.fffffff`
 *   fraction): a constant interval. Note `"5"` is five days, as in .NET.
 * - Anything else throws the host's "was not recognized" message.
 *
 * `timeZone` is an IANA name; undefined means the process's local zone (Core Tools uses the machine zone,
 * Azure uses `WEBSITE_TIME_ZONE`, else UTC: mapping that is the caller's job).
 */
export function parseSchedule(
  expression: string,
  opts: { env: Record<string, string | undefined>; useMonitor?: boolean; timeZone?: string },
): TimerSchedule {
  const resolved = resolveSettings(expression, opts.env);
  const timeZone = resolveZone(opts.timeZone);
  const useMonitor = opts.useMonitor ?? true;

  const cron = parseNcrontab(resolved);
  if (cron) {
    return new CronTimerSchedule(
      resolved,
      cron,
      new Zone(timeZone),
      useMonitor && !firesMoreThanOncePerMinute(cron),
    );
  }
  const interval = parseNetTimeSpan(resolved);
  if (interval !== undefined) {
    if (interval <= 0) {
      // .NET accepts these, and the listener then re-fires as fast as it can forever; a dev host
      // should say so instead of spinning.
      throw new ScheduleError(
        `The schedule expression '${resolved}' is a zero or negative TimeSpan; the Functions host would fire it continuously.`,
      );
    }
    // TimerSchedule.Create: `periodTimespan.TotalMinutes < 1` disables the monitor.
    return new ConstantTimerSchedule(
      resolved,
      interval,
      timeZone,
      useMonitor && interval >= 60_000,
    );
  }
  throw new ScheduleError(
    `The schedule expression '${resolved}' was not recognized as a valid cron expression or timespan string.`,
  );
}

/** A timer's persisted status (`ScheduleStatus`): the last run, the expected next one, and when it was written. */
export interface ScheduleStatus {
  last: Date;
  next: Date;
  lastUpdated: Date;
}

/**
 * The monitor's start-up check (`ScheduleMonitor.CheckPastDueAsync`). Returns whether an occurrence was
 * missed while the host was down, and the status to store and schedule from.
 *
 * - No stored status: `{ last: MIN_DATE, next: schedule.next(now), lastUpdated: now }`, not past due.
 * - Otherwise the expected next is recomputed from `last` (or `lastUpdated` if the timer never fired, or
 *   `now` if neither is set). If it differs from the stored `next` the schedule was edited: the status
 *   becomes `{ last: MIN_DATE, next: expected, lastUpdated: <the time it was computed from> }`, and if
 *   that `expected` is already past it is recomputed from `now`, so an edit never causes a past-due run.
 * - Past due when `now` is later than the resulting `next`.
 */
export function checkPastDue(
  status: ScheduleStatus | null,
  schedule: TimerSchedule,
  now: Date,
): { pastDue: boolean; status: ScheduleStatus } {
  let result: ScheduleStatus;
  if (status === null) {
    result = { last: MIN_DATE, next: schedule.next(now), lastUpdated: now };
  } else {
    let basis: Date;
    if (!isMinDate(status.last)) basis = status.last;
    else if (!isMinDate(status.lastUpdated)) basis = status.lastUpdated;
    else basis = now;
    let expected = schedule.next(basis);
    if (status.next.getTime() !== expected.getTime()) {
      if (now.getTime() > expected.getTime()) {
        expected = schedule.next(now);
        basis = now;
      }
      result = { last: MIN_DATE, next: expected, lastUpdated: basis };
    } else {
      result = { ...status };
    }
  }
  return { pastDue: now.getTime() > result.next.getTime(), status: result };
}

/**
 * The status the listener stores after an invocation (`TimerListener.InvokeJobFunction`). A scheduled run
 * that fired slightly early is treated as having run at its scheduled `next`, so the same `next` is never
 * recorded twice (which would re-fire after a restart); past-due and run-on-startup runs use the real time.
 */
export function statusAfterInvocation(
  schedule: TimerSchedule,
  previous: ScheduleStatus | null,
  invokedAt: Date,
  reason: 'schedule' | 'pastDue' | 'runOnStartup',
): ScheduleStatus {
  let at = invokedAt;
  if (reason === 'schedule' && previous && previous.next.getTime() > invokedAt.getTime()) {
    at = previous.next;
  }
  return { last: at, next: schedule.next(at), lastUpdated: at };
}

/**
 * The trigger payload the host sends (Json.NET, PascalCase; the Node library camel-cases it):
 * `{"Schedule":{"AdjustForDST":bool},"ScheduleStatus":{"Last","Next","LastUpdated"}|null,"IsPastDue":bool}`.
 * `ScheduleStatus` is null whenever the schedule's monitor is off, whatever is passed, as in the listener.
 * Dates are local `DateTime`s as Json.NET writes them: wall time in the schedule's zone, up to 7
 * fractional digits with trailing zeros dropped, and the offset (`2024-01-01T00:05:00+00:00`, not `Z`).
 */
export function timerInfoJson(
  schedule: TimerSchedule,
  status: ScheduleStatus | null,
  isPastDue: boolean,
): string {
  const zone = new Zone(schedule.timeZone);
  const shown = schedule.useMonitor ? status : null;
  return JSON.stringify({
    Schedule: { AdjustForDST: schedule.adjustForDST },
    ScheduleStatus: shown && {
      Last: zone.formatNetLocal(shown.last),
      Next: zone.formatNetLocal(shown.next),
      LastUpdated: zone.formatNetLocal(shown.lastUpdated),
    },
    IsPastDue: isPastDue,
  });
}

// ---------------------------------------------------------------------------------------------------
// Schedules

class ConstantTimerSchedule implements TimerSchedule {
  readonly kind = 'timespan';
  // ConstantSchedule: intervals are elapsed time, never shifted across DST.
  readonly adjustForDST = false;

  constructor(
    readonly expression: string,
    private readonly intervalMs: number,
    readonly timeZone: string,
    readonly useMonitor: boolean,
  ) {}

  next(after: Date): Date {
    return new Date(after.getTime() + this.intervalMs);
  }
}

class CronTimerSchedule implements TimerSchedule {
  readonly kind = 'cron';
  readonly adjustForDST = true;
  readonly timeZone: string;
  private readonly cron: Cron;
  private readonly isInterval: boolean;

  constructor(
    readonly expression: string,
    parsed: ParsedCron,
    private readonly zone: Zone,
    readonly useMonitor: boolean,
  ) {
    this.timeZone = zone.name;
    // croner does the calendar arithmetic on wall-clock times encoded as UTC instants (utcOffset 0),
    // exactly as NCrontab works on a local DateTime; zones are handled below, the way CronSchedule does.
    // legacyMode false = day-of-month AND day-of-week, NCrontab's rule.
    this.cron = new Cron(cronerPattern(parsed), { utcOffset: 0, legacyMode: false });
    this.isInterval = isIntervalSchedule(parsed);
  }

  next(after: Date): Date {
    const zone = this.zone;
    const nowMs = after.getTime();
    const nowOffset = zone.offset(nowMs);
    const nowWall = nowMs + nowOffset;
    const nextWall = this.nextWall(nowWall);
    if (nextWall === undefined) return MAX_DATE;
    // `new DateTimeOffset(local)`: a wall time skipped by spring-forward or repeated by fall-back gets
    // the standard offset, so 02:30 on a spring-forward night runs at 03:30 daylight time.
    let nextMs = zone.fromWall(nextWall);
    const nextOffset = zone.offset(nextMs);
    const nowAmbiguous = zone.isAmbiguous(nowWall);
    const nextAmbiguous = zone.isAmbiguous(nextMs + nextOffset);
    if (!nowAmbiguous && !nextAmbiguous) return new Date(nextMs);

    // CronSchedule.TryAdjustAmbiguousTime, for the hour a fall-back repeats.
    if (!this.isInterval && nextAmbiguous && nextOffset !== nowOffset) {
      // A point-in-time run (e.g. daily 01:30) reached from daylight time happens at the first, daylight, 01:30.
      nextMs += nextOffset - nowOffset;
    } else if (!this.isInterval && nextAmbiguous) {
      // Already in standard time inside the repeated hour: the daylight run is assumed done; skip past it.
      let wall: number | undefined = nextMs + nextOffset;
      while (wall !== undefined && zone.isAmbiguous(wall)) wall = this.nextWall(wall);
      if (wall === undefined) return MAX_DATE;
      nextMs = zone.fromWall(wall);
    } else if (this.isInterval && nextOffset !== nowOffset) {
      // Interval schedules keep running through both copies of the repeated hour.
      nextMs += nextOffset - nowOffset;
    }
    return new Date(nextMs);
  }

  /** NCrontab `GetNextOccurrence` on a wall-clock time (ms, as if UTC); undefined when nothing matches. */
  private nextWall(wallMs: number): number | undefined {
    // croner's Date.UTC misreads years 0-99 as 19xx; the Gregorian calendar (weekdays included) repeats
    // every 400 years, so shift such dates (e.g. around MIN_DATE) forward a cycle and back again.
    const shift = wallMs < YEAR_100_MS ? GREGORIAN_CYCLE_MS : 0;
    const next = this.cron.nextRun(new Date(wallMs + shift));
    return next === null ? undefined : next.getTime() - shift;
  }
}

const GREGORIAN_CYCLE_MS = 146_097 * 86_400_000;
const YEAR_100_MS = -59011459200000; // 0100-01-01T00:00:00Z

function isMinDate(d: Date): boolean {
  // .NET writes the sentinel as local time; in zones west of UTC it is clamped to 0001-01-01T00:00 local,
  // which is up to 14 h after the UTC instant. Anything on the first day of year 1 is the sentinel.
  return d.getTime() < MIN_DATE.getTime() + 86_400_000;
}

// ---------------------------------------------------------------------------------------------------
// %Setting% substitution (WebJobs NameResolverExtensions.ResolveWholeString)

function resolveSettings(expression: string, env: Record<string, string | undefined>): string {
  let out = '';
  let i = 0;
  while (i < expression.length) {
    const start = expression.indexOf('%', i);
    if (start < 0) {
      out += expression.slice(i);
      break;
    }
    const end = expression.indexOf('%', start + 1);
    if (end < 0) {
      throw new ScheduleError(`The '%' at position ${start} does not have a closing '%'`);
    }
    const name = expression.slice(start + 1, end);
    const value = env[name];
    if (value === undefined) throw new ScheduleError(`'%${name}%' does not resolve to a value.`);
    out += expression.slice(i, start) + value;
    i = end + 1;
  }
  return out;
}

function resolveZone(timeZone: string | undefined): string {
  try {
    // resolvedOptions() canonicalises the name ('utc' -> 'UTC') and, without one, names the process zone.
    return new Intl.DateTimeFormat('en-US', { timeZone }).resolvedOptions().timeZone;
  } catch {
    throw new ScheduleError(
      `Unknown time zone '${String(timeZone)}': expected an IANA name such as 'Europe/Paris'.`,
    );
  }
}
