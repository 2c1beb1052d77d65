// NCRONTAB and .NET TimeSpan parsing for timer schedules, as the Functions host reads them.

// ---------------------------------------------------------------------------------------------------
// NCrontab parsing. Hand-written because croner accepts a different language (7 = Sunday, `L`, `#`, `?`,
// nicknames, no reversed ranges, no name prefixes); croner then only sees plain numeric lists.

export interface FieldSpec {
  readonly min: number;
  readonly max: number;
  readonly names?: readonly string[];
}

export const SECOND: FieldSpec = { min: 0, max: 59 };
export const MINUTE: FieldSpec = { min: 0, max: 59 };
export const HOUR: FieldSpec = { min: 0, max: 23 };
export const DAY: FieldSpec = { min: 1, max: 31 };
export const MONTH: FieldSpec = {
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
export const DAY_OF_WEEK: FieldSpec = {
  min: 0,
  max: 6,
  names: ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'],
};

/** One field's allowed values (`values[v - min]`), plus its spec. */
export interface Field {
  readonly spec: FieldSpec;
  readonly values: readonly boolean[];
}

export interface ParsedCron {
  /** Undefined for a 5-field expression (NCrontab then fixes seconds to 0). */
  readonly second: Field | undefined;
  readonly minute: Field;
  readonly hour: Field;
  readonly day: Field;
  readonly month: Field;
  readonly dayOfWeek: Field;
}

export function parseNcrontab(expression: string): ParsedCron | undefined {
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
export function parseTerm(text: string, spec: FieldSpec, values: boolean[]): boolean {
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
export function parseValue(str: string, spec: FieldSpec): number | undefined {
  if (str === '') return undefined;
  const first = str.charCodeAt(0);
  if (first >= 48 && first <= 57) return parseNetInt(str, false);
  if (!spec.names) return undefined;
  const lower = str.toLowerCase();
  const index = spec.names.findIndex((n) => n.toLowerCase().startsWith(lower));
  return index < 0 ? undefined : index + spec.min;
}

/** `int.Parse(s, InvariantCulture)`: optional white space around, optional sign, 32-bit range. */
export function parseNetInt(s: string, allowSign: boolean): number | undefined {
  const m = (allowSign ? /^[\t-\r ]*([+-]?\d+)[\t-\r ]*$/ : /^(\d+)[\t-\r ]*$/).exec(s);
  if (!m?.[1]) return undefined;
  const n = Number(m[1]);
  return n >= -2147483648 && n <= 2147483647 ? n : undefined;
}

/** CrontabField.Accumulate: -1/-1 is `*`; reversed ranges are swapped; a step below 1 counts as 1. */
export function accumulate(
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
export function cronerPattern(cron: ParsedCron): string {
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
export function formatField(f: Field): string {
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
export function isIntervalSchedule(cron: ParsedCron): boolean {
  const fields = cron.second ? [cron.second, cron.minute, cron.hour] : [cron.minute, cron.hour];
  return fields.map(formatField).some((p) => /[*/-]/.test(p));
}

/**
 * TimerSchedule.ShouldDisableScheduleMonitor: only when every field after the first is `*` (so a
 * 5-field schedule never qualifies) and more than one occurrence falls within the next minute, i.e.
 * more than one second value. `0,30 * 5 * * *` keeps its monitor, as in the host. The host counts
 * occurrences in (now, now + 1 min), which differs from the set size only at whole-second instants.
 */
export function firesMoreThanOncePerMinute(cron: ParsedCron): boolean {
  if (!cron.second) return false;
  const rest = [cron.minute, cron.hour, cron.day, cron.month, cron.dayOfWeek];
  if (!rest.every((f) => formatField(f) === '*')) return false;
  return cron.second.values.filter(Boolean).length > 1;
}

// ---------------------------------------------------------------------------------------------------
// .NET TimeSpan.TryParse (invariant and en-US forms)

/** Token shapes TimeSpan.TryParse accepts ('n' = digits), and what each number is. */
export const TIMESPAN_SHAPES: Readonly<Record<string, readonly ('d' | 'h' | 'm' | 's' | 'f')[]>> = {
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
export function parseNetTimeSpan(text: string): number | undefined {
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
