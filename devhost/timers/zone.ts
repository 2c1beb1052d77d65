// Time zones with .NET's local-time rules, for timer schedules and the timer payload's dates.

/** .NET `DateTime.MinValue` (0001-01-01T00:00:00Z): the "never" sentinel the monitor stores in `Last`/`LastUpdated`. */
export const MIN_DATE: Date = new Date(-62135596800000);

/**
 * Returned by `next()` when no date ever matches (e.g. `0 0 0 30 2 *`, 30 February). NCrontab then
 * answers `DateTime.MaxValue`; croner gives up at year 3000, so both become "effectively never".
 */
export const MAX_DATE: Date = new Date(253402300799999);

// ---------------------------------------------------------------------------------------------------
// Time zones, with .NET's local-time rules

export class Zone {
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
