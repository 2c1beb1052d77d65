// The deadline and its reminder schedule (R-DUE-1, R-DUE-2): pure, zone-aware, DST-safe date arithmetic.

/** What the schedule is computed from; all of it comes from configuration. */
export interface ReminderSchedule {
  /** The deadline, an ISO instant with an offset (R-DUE-1). */
  deadline: string;
  /** The IANA zone the deadline is meant in; reminder days and hours are local to it. */
  timeZone: string;
  /** Days before the deadline on which a reminder is due, e.g. [30, 14, 7, 3, 1]. */
  offsetsDays: number[];
  /** The local hour (0–23) at which each reminder becomes due. */
  localHour: number;
}

/** One reminder slot: an offset before the deadline, or the one notice after it. */
export interface ReminderSlot {
  /** `d30`, `d1`, … or `overdue`; stable, used in ledger keys. */
  key: string;
  /** Days before the deadline; 0 for the overdue notice. */
  offsetDays: number;
  overdue: boolean;
  /** When the slot becomes due (ISO, UTC). */
  dueAt: string;
}

let ianaZones: Set<string> | undefined;
/** True when `zone` is an IANA time zone name (canonical or a link to one), not an abbreviation or offset. */
export function isTimeZone(zone: string): boolean {
  ianaZones ??= new Set([...Intl.supportedValuesOf('timeZone'), 'UTC', 'Etc/UTC']);
  if (!zone.includes('/') && zone !== 'UTC') return false;
  try {
    const resolved = new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions()
      .timeZone;
    return ianaZones.has(zone) || ianaZones.has(resolved);
  } catch {
    return false;
  }
}

const partsFormat = new Map<string, Intl.DateTimeFormat>();
function formatter(zone: string): Intl.DateTimeFormat {
  let f = partsFormat.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    partsFormat.set(zone, f);
  }
  return f;
}

interface LocalTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/** The wall-clock time of an instant in a zone. */
export function localTime(at: Date, zone: string): LocalTime {
  const p = Object.fromEntries(
    formatter(zone)
      .formatToParts(at)
      .filter((x) => x.type !== 'literal')
      .map((x) => [x.type, Number(x.value)]),
  ) as Record<string, number>;
  return {
    year: p.year!,
    month: p.month!,
    day: p.day!,
    hour: p.hour!,
    minute: p.minute!,
    second: p.second!,
  };
}

/** The local calendar date (YYYY-MM-DD) of an instant in a zone. */
export function localDate(at: Date, zone: string): string {
  const t = localTime(at, zone);
  return `${t.year}-${String(t.month).padStart(2, '0')}-${String(t.day).padStart(2, '0')}`;
}

/**
 * The instant at which the wall clock of `zone` first shows the given local hour that day. An hour skipped
 * by a spring-forward gap resolves to the first instant after the gap; a repeated one to its first occurrence.
 */
export function zonedInstant(
  zone: string,
  year: number,
  month: number,
  day: number,
  hour: number,
): Date {
  const wanted = Date.UTC(year, month - 1, day, hour);
  // Every real offset lies within ±14 h and is a multiple of 15 minutes: try them all, earliest first.
  let after: number | undefined;
  for (let q = -56; q <= 56; q++) {
    const at = wanted + q * 900_000;
    const t = localTime(new Date(at), zone);
    const shown = Date.UTC(t.year, t.month - 1, t.day, t.hour, t.minute, t.second);
    if (shown === wanted) return new Date(at);
    if (shown > wanted && t.day === day && (after === undefined || at < after)) after = at;
  }
  return new Date(after ?? wanted);
}

/** Days from `now` to the deadline, counted in whole local days of the deadline's zone (negative after). */
export function daysLeft(
  schedule: Pick<ReminderSchedule, 'deadline' | 'timeZone'>,
  now: Date,
): number {
  const a = localTime(now, schedule.timeZone);
  const b = localTime(new Date(schedule.deadline), schedule.timeZone);
  return (Date.UTC(b.year, b.month - 1, b.day) - Date.UTC(a.year, a.month - 1, a.day)) / 86_400_000;
}

/** Every slot of the schedule, earliest first: one per offset, then the overdue notice. */
export function slots(schedule: ReminderSchedule): ReminderSlot[] {
  const deadline = new Date(schedule.deadline);
  const d = localTime(deadline, schedule.timeZone);
  const out: ReminderSlot[] = [...new Set(schedule.offsetsDays)]
    .sort((x, y) => y - x)
    .map((offset) => {
      // Calendar arithmetic on the local date, then back to an instant: DST changes no reminder's day.
      const day = new Date(Date.UTC(d.year, d.month - 1, d.day - offset));
      const due = zonedInstant(
        schedule.timeZone,
        day.getUTCFullYear(),
        day.getUTCMonth() + 1,
        day.getUTCDate(),
        schedule.localHour,
      );
      return { key: `d${offset}`, offsetDays: offset, overdue: false, dueAt: due.toISOString() };
    });
  // The overdue notice is due the moment the deadline has passed.
  out.push({
    key: 'overdue',
    offsetDays: 0,
    overdue: true,
    dueAt: new Date(deadline.getTime() + 1000).toISOString(),
  });
  return out.sort((x, y) => Date.parse(x.dueAt) - Date.parse(y.dueAt));
}

/**
 * The slot a sweep at `now` sends: the latest one already due. Earlier slots that were missed are never
 * caught up (a deadline already past sends only the overdue notice); undefined before the first is due.
 */
export function currentSlot(schedule: ReminderSchedule, now: Date): ReminderSlot | undefined {
  return slots(schedule)
    .filter((s) => Date.parse(s.dueAt) <= now.getTime())
    .at(-1);
}

/**
 * The slot due on the local day of `now` (its due time may still lie ahead that day), else the current one.
 * A sweep started early in the day waits for it instead of sending yesterday's.
 */
export function slotForDay(schedule: ReminderSchedule, now: Date): ReminderSlot | undefined {
  const today = localDate(now, schedule.timeZone);
  const todays = slots(schedule).find(
    (s) => !s.overdue && localDate(new Date(s.dueAt), schedule.timeZone) === today,
  );
  if (todays && Date.parse(todays.dueAt) > now.getTime()) return todays;
  return currentSlot(schedule, now);
}

/** A stable id for the deadline, so a changed deadline gets fresh ledger rows. */
export function deadlineKey(deadline: string): string {
  return new Date(deadline).toISOString().replace(/[-:]/g, '').replace('.000', '');
}

/** The outbox bucket of one slot of one deadline: its mail and ledger rows live there. */
export function reminderBucketKey(deadline: string, slotKey: string): string {
  return `reminder~${deadlineKey(deadline)}~${slotKey}`;
}
