// The host's clock: real time, or a virtual clock that stands still until moved (--virtual-clock).

/** Cancels a scheduled callback. */
export type Cancel = () => void;

export interface Clock {
  readonly virtual: boolean;
  now(): Date;
  /** Calls `fn(due)` once the clock reaches `due` (at once if it already has). */
  at(due: Date, fn: (due: Date) => void): Cancel;
}

/** Node's timers take at most 2^31-1 ms; longer waits are chained. */
const MAX_DELAY = 2_147_483_647;

export class RealClock implements Clock {
  readonly virtual = false;
  now(): Date {
    return new Date();
  }
  at(due: Date, fn: (due: Date) => void): Cancel {
    let timer: NodeJS.Timeout | undefined;
    let cancelled = false;
    const arm = (): void => {
      const delay = due.getTime() - Date.now();
      if (delay <= 0) {
        timer = setTimeout(() => !cancelled && fn(due), 0);
      } else {
        timer = setTimeout(arm, Math.min(delay, MAX_DELAY));
      }
      timer.unref();
    };
    arm();
    return () => {
      cancelled = true;
      clearTimeout(timer);
    };
  }
}

interface Pending {
  due: number;
  seq: number;
  fn: (due: Date) => void;
}

/**
 * Virtual time: `now()` changes only through `set`/`advance`. Moving forward fires every callback
 * that became due, in due order (ties in scheduling order), each with its own due time; callbacks
 * scheduled while firing that are already due fire in the same move. Moving backwards fires nothing.
 */
export class VirtualClock implements Clock {
  readonly virtual = true;
  #now: number;
  #seq = 0;
  #pending: Pending[] = [];

  constructor(start: Date = new Date()) {
    this.#now = start.getTime();
  }

  now(): Date {
    return new Date(this.#now);
  }

  at(due: Date, fn: (due: Date) => void): Cancel {
    const entry: Pending = { due: due.getTime(), seq: this.#seq++, fn };
    if (entry.due <= this.#now) {
      // Already due: fire on the next turn, never synchronously inside the caller.
      const t = setTimeout(() => fn(due), 0);
      return () => clearTimeout(t);
    }
    this.#pending.push(entry);
    return () => {
      const i = this.#pending.indexOf(entry);
      if (i >= 0) this.#pending.splice(i, 1);
    };
  }

  /** Moves to `to` and fires what became due; returns how many callbacks fired. */
  set(to: Date): number {
    this.#now = to.getTime();
    let fired = 0;
    for (;;) {
      const due = this.#pending
        .filter((p) => p.due <= this.#now)
        .sort((a, b) => a.due - b.due || a.seq - b.seq);
      const next = due[0];
      if (!next) return fired;
      this.#pending.splice(this.#pending.indexOf(next), 1);
      fired++;
      try {
        next.fn(new Date(next.due));
      } catch {
        /* a callback's failure is its own concern; keep firing the rest */
      }
    }
  }

  advance(ms: number): number {
    return this.set(new Date(this.#now + ms));
  }

  /** The due times still waiting, earliest first (for GET /admin/devhost/clock). */
  pendingDue(): Date[] {
    return this.#pending.map((p) => new Date(p.due)).sort((a, b) => a.getTime() - b.getTime());
  }
}

/**
 * ISO 8601 duration (`P7D`, `PT1H30M`, `P1DT2H`, `PT0.5S`, with weeks `P2W`) to milliseconds.
 * Years and months are refused: their length depends on the date they start from.
 */
export function parseIsoDuration(text: string): number | undefined {
  const m =
    /^(-)?P(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(
      text,
    );
  if (!m || text === 'P' || text.endsWith('T')) return undefined;
  const [, neg, w, d, h, min, s] = m;
  const ms =
    (Number(w ?? 0) * 7 * 86_400 +
      Number(d ?? 0) * 86_400 +
      Number(h ?? 0) * 3600 +
      Number(min ?? 0) * 60 +
      Number(s ?? 0)) *
    1000;
  return neg ? -ms : ms;
}
