// Timer trigger schedules (NCRONTAB or TimeSpan), their next occurrences and the start-up past-due check, as the Functions host computes them.
import { Cron } from 'croner';
import { ScheduleError } from '../errors.js';

/** .NET `DateTime.MinValue` (0001-01-01T00:00:00Z): the "never" sentinel the monitor stores in `Last`/`LastUpdated`. */
export const MIN_DATE: Date = new Date(-62135596800000);

/**
 * Returned by `next()` when no date ever matches (e.g. `0 0 0 30 2 *`, 30 February). NCrontab then
 * answers `DateTime.MaxValue`; croner gives up at year 3000, so both become "effectively never".
 */
export const MAX_DATE: Date = new Date(253402300799999);

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

// ---------------------------------------------------------------------------------------------------
// NCrontab parsing. Hand-written because croner accepts a different language (7 = Sunday, `L`, `#`, `?`,
// nicknames, no reversed ranges, no name prefixes); croner then only sees plain numeric lists.

interface FieldSpec {
  readonly min: number;
  readonly max: number;
  readonly names?: readonly string[];
}

const SECOND: FieldSpec = { min: 0, max: 59 };
const MINUTE: FieldSpec = { min: 0, max: 59 };
const HOUR: FieldSpec = { min: 0, max: 23 };
const DAY: FieldSpec = { min: 1, max: 31 };
const MONTH: FieldSpec = {
  min: 1,
  max: 12,
  names: [
    'January',
    'February',
    'March',
    'April',
    'May',
    'June',
    'July',
    'August',
    'September',
    'October',
    'November',
    'December',
  ],
};
const DAY_OF_WEEK: FieldSpec = {
  min: 0,
  max: 6,
  names: ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'],
};

/** One field's allowed values (`values[v - min]`), plus its spec. */
interface Field {
  readonly spec: FieldSpec;
  readonly values: readonly boolean[];
}

interface ParsedCron {
  /** Undefined for a 5-field expression (NCrontab then fixes seconds to 0). */
  readonly second: Field | undefined;
  readonly minute: Field;
  readonly hour: Field;
  readonly day: Field;
  readonly month: Field;
  readonly dayOfWeek: Field;
}

function parseNcrontab(expression: string): ParsedCron | undefined {
  // NCrontab splits on ' ' only (a tab stays inside a token and fails it).
  const tokens = expression.split(' ').filter((t) => t !== '');
  // CronSchedule.HasSeconds: exactly 5 tokens parse without seconds; any other count must be 6.
  const specs =
    tokens.length === 5
      ? [MINUTE, HOUR, DAY, MONTH, DAY_OF_WEEK]
      : [SECOND, MINUTE, HOUR, DAY, MONTH, DAY_OF_WEEK];
  if (tokens.length !== specs.length) return undefined;
  const fields: Field[] = [];
  for (const [i, spec] of specs.entries()) {
    const values = new Array<boolean>(spec.max - spec.min + 1).fill(false);
    if (!parseTerm(tokens[i] ?? '', spec, values)) return undefined;
    fields.push({ spec, values });
  }
  const [a, b, c, d, e, f] = fields;
  if (!a || !b || !c || !d || !e) return undefined;
  return f
    ? { second: a, minute: b, hour: c, day: d, month: e, dayOfWeek: f }
    : { second: undefined, minute: a, hour: b, day: c, month: d, dayOfWeek: e };
}

/** CrontabFieldImpl.InternalParse: fills `values`, false on any syntax or range error. */
function parseTerm(text: string, spec: FieldSpec, values: boolean[]): boolean {
  if (text === '') return false;
  if (text.indexOf(',') > 0) {
    return text.split(',').every((part) => parseTerm(part, spec, values));
  }
  let every: number | undefined;
  let str = text;
  const slash = str.indexOf('/');
  if (slash > 0) {
    every = parseNetInt(str.slice(slash + 1), true);
    if (every === undefined) return false;
    str = str.slice(0, slash);
  }
  if (str === '*') return accumulate(spec, values, -1, -1, every ?? 1);
  const dash = str.indexOf('-');
  if (dash > 0) {
    const first = parseValue(str.slice(0, dash), spec);
    const last = parseValue(str.slice(dash + 1), spec);
    if (first === undefined || last === undefined) return false;
    return accumulate(spec, values, first, last, every ?? 1);
  }
  const value = parseValue(str, spec);
  if (value === undefined) return false;
  // `a/n` means from a to the field's maximum, every n.
  return every === undefined
    ? accumulate(spec, values, value, value, 1)
    : accumulate(spec, values, value, spec.max, every);
}

/** CrontabFieldImpl.ParseValue: a number, or the first name (case-insensitively) that starts with `str`. */
function parseValue(str: string, spec: FieldSpec): number | undefined {
  if (str === '') return undefined;
  const first = str.charCodeAt(0);
  if (first >= 48 && first <= 57) return parseNetInt(str, false);
  if (!spec.names) return undefined;
  const lower = str.toLowerCase();
  const index = spec.names.findIndex((n) => n.toLowerCase().startsWith(lower));
  return index < 0 ? undefined : index + spec.min;
}

/** `int.Parse(s, InvariantCulture)`: optional white space around, optional sign, 32-bit range. */
function parseNetInt(s: string, allowSign: boolean): number | undefined {
  const m = (allowSign ? /^[\t-\r ]*([+-]?\d+)[\t-\r ]*$/ : /^(\d+)[\t-\r ]*$/).exec(s);
  if (!m?.[1]) return undefined;
  const n = Number(m[1]);
  return n >= -2147483648 && n <= 2147483647 ? n : undefined;
}

/** CrontabField.Accumulate: -1/-1 is `*`; reversed ranges are swapped; a step below 1 counts as 1. */
function accumulate(
  spec: FieldSpec,
  values: boolean[],
  start: number,
  end: number,
  interval: number,
): boolean {
  let from = start;
  let to = end;
  if (from === to) {
    if (from < 0) {
      from = spec.min;
      to = spec.max;
    } else if (from < spec.min || from > spec.max) {
      return false;
    }
  } else {
    if (from > to) [from, to] = [to, from];
    if (from < spec.min || to > spec.max) return false;
  }
  const step = Math.max(interval, 1);
  for (let v = from; v <= to; v += step) values[v - spec.min] = true;
  return true;
}

/** The numeric list croner sees; 5-field schedules get second 0, as NCrontab's `SecondZero`. */
function cronerPattern(cron: ParsedCron): string {
  const list = (f: Field) =>
    f.values.every(Boolean)
      ? '*'
      : f.values.flatMap((on, i) => (on ? [String(i + f.spec.min)] : [])).join(',');
  const second = cron.second ? list(cron.second) : '0';
  return [second, cron.minute, cron.hour, cron.day, cron.month, cron.dayOfWeek]
    .map((f) => (typeof f === 'string' ? f : list(f)))
    .join(' ');
}

/** CrontabField.Format: `*` for a full field, else runs as `a-b` joined by commas (no steps, no names). */
function formatField(f: Field): string {
  const parts: string[] = [];
  for (let i = 0; i < f.values.length; i++) {
    if (!f.values[i]) continue;
    let j = i;
    while (f.values[j + 1]) j++;
    if (parts.length === 0 && i === 0 && j === f.values.length - 1) return '*';
    const a = i + f.spec.min;
    const b = j + f.spec.min;
    parts.push(a === b ? String(a) : `${a}-${b}`);
    i = j;
  }
  return parts.join(',');
}

/**
 * CronSchedule's `IsInterval`: the normalised (NCrontab ToString) second/minute/hour fields (minute/hour
 * for 5 fields) contain `*`, `/` or `-`. It picks how a fall-back's repeated hour is handled.
 */
function isIntervalSchedule(cron: ParsedCron): boolean {
  const fields = cron.second ? [cron.second, cron.minute, cron.hour] : [cron.minute, cron.hour];
  return fields.map(formatField).some((p) => /[*/-]/.test(p));
}

/**
 * TimerSchedule.ShouldDisableScheduleMonitor: only when every field after the first is `*` (so a
 * 5-field schedule never qualifies) and more than one occurrence falls within the next minute, i.e.
 * more than one second value. `0,30 * 5 * * *` keeps its monitor, as in the host. The host counts
 * occurrences in (now, now + 1 min), which differs from the set size only at whole-second instants.
 */
function firesMoreThanOncePerMinute(cron: ParsedCron): boolean {
  if (!cron.second) return false;
  const rest = [cron.minute, cron.hour, cron.day, cron.month, cron.dayOfWeek];
  if (!rest.every((f) => formatField(f) === '*')) return false;
  return cron.second.values.filter(Boolean).length > 1;
}

// ---------------------------------------------------------------------------------------------------
// .NET TimeSpan.TryParse (invariant and en-US forms)

/** Token shapes TimeSpan.TryParse accepts ('n' = digits), and what each number is. */
const TIMESPAN_SHAPES: Readonly<Record<string, readonly ('d' | 'h' | 'm' | 's' | 'f')[]>> = {
  n: ['d'],
  'n:n': ['h', 'm'],
  'n:n:n': ['h', 'm', 's'],
  'n.n:n': ['d', 'h', 'm'],
  'n:n:n.n': ['h', 'm', 's', 'f'],
  'n.n:n:n': ['d', 'h', 'm', 's'],
  'n:n:n:n': ['d', 'h', 'm', 's'],
  'n.n:n:n.n': ['d', 'h', 'm', 's', 'f'],
  'n:n:n:n.n': ['d', 'h', 'm', 's', 'f'],
};

/** Milliseconds, or undefined when .NET would not parse it (components out of range overflow there). */
function parseNetTimeSpan(text: string): number | undefined {
  const m = /^\s*(-?)([\d.:]+)\s*$/.exec(text);
  if (!m?.[2]) return undefined;
  const numbers = m[2].match(/\d+/g) ?? [];
  const names = TIMESPAN_SHAPES[m[2].replace(/\d+/g, 'n')];
  if (!names || names.length !== numbers.length) return undefined;
  const part = { d: 0, h: 0, m: 0, s: 0, f: 0 };
  for (const [i, name] of names.entries()) {
    const digits = numbers[i] ?? '';
    if (name === 'f') {
      if (digits.length > 7) return undefined;
      part.f = Math.round(Number(`0.${digits}`) * 1000);
    } else {
      part[name] = Number(digits);
    }
  }
  if (part.d > 10675199 || part.h > 23 || part.m > 59 || part.s > 59) return undefined;
  const ms = (((part.d * 24 + part.h) * 60 + part.m) * 60 + part.s) * 1000 + part.f;
  return m[1] ? -ms : ms;
}

// ---------------------------------------------------------------------------------------------------
// Time zones, with .NET's local-time rules

class Zone {
  private readonly fmt: Intl.DateTimeFormat;

  constructor(readonly name: string) {
    this.fmt = new Intl.DateTimeFormat('en-US', { timeZone: name, timeZoneName: 'longOffset' });
  }

  /** UTC offset in ms at an instant (to the second: LMT offsets such as -07:52:58 exist). */
  offset(ms: number): number {
    const label = this.fmt.formatToParts(ms).find((p) => p.type === 'timeZoneName')?.value ?? '';
    const m = /^GMT(?:([+-])(\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(label);
    if (!m) throw new Error(`Unexpected offset '${label}' for time zone ${this.name}`);
    const abs = (Number(m[2] ?? 0) * 3600 + Number(m[3] ?? 0) * 60 + Number(m[4] ?? 0)) * 1000;
    return m[1] === '-' ? -abs : abs;
  }

  /** The offsets a wall time can have: one normally, none in a spring-forward gap, two in a fall-back. */
  private offsetsOf(wallMs: number): { valid: number[]; standard: number } {
    // A day either side brackets any transition near this wall time.
    const before = this.offset(wallMs - 86_400_000);
    const after = this.offset(wallMs + 86_400_000);
    const valid = [...new Set([before, after])].filter((o) => this.offset(wallMs - o) === o);
    // .NET resolves invalid and ambiguous local times with the standard offset: the smaller one.
    return { valid, standard: Math.min(before, after) };
  }

  /** `new DateTimeOffset(localDateTime)`: wall time to instant, gaps and overlaps at the standard offset. */
  fromWall(wallMs: number): number {
    const { valid, standard } = this.offsetsOf(wallMs);
    return wallMs - (valid.length === 1 ? (valid[0] ?? standard) : standard);
  }

  /** `TimeZoneInfo.IsAmbiguousTime`: the wall time occurs twice (the hour a fall-back repeats). */
  isAmbiguous(wallMs: number): boolean {
    return this.offsetsOf(wallMs).valid.length > 1;
  }

  /** Json.NET's round-trip form of a local DateTime: `yyyy-MM-ddTHH:mm:ss[.FFFFFFF]+hh:mm`. */
  formatNetLocal(d: Date): string {
    const off = this.offset(d.getTime());
    // DateTime.ToLocalTime clamps to Min/MaxValue, so the sentinel west of UTC reads 0001-01-01T00:00:00-hh:mm.
    const wallMs = Math.min(Math.max(d.getTime() + off, MIN_DATE.getTime()), MAX_DATE.getTime());
    const [base = '', fraction = ''] = new Date(wallMs).toISOString().replace(/Z$/, '').split('.');
    const digits = fraction.replace(/0+$/, '');
    const text = digits ? `${base}.${digits}` : base;
    const minutes = Math.trunc(Math.abs(off) / 60_000);
    const hh = String(Math.trunc(minutes / 60)).padStart(2, '0');
    const mm = String(minutes % 60).padStart(2, '0');
    return `${text}${off < 0 ? '-' : '+'}${hh}:${mm}`;
  }
}
