// The app's Durable functions by trigger type, and the slots that bound how many run at once.
import type { RegisteredFunction } from '../core.js';
import { triggerOf } from '../http/router.js';

export class Semaphore {
  #free: number;
  readonly #waiting: (() => void)[] = [];
  constructor(n: number) {
    this.#free = n;
  }
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((r) => this.#waiting.push(r));
    try {
      return await fn();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free++;
    }
  }
}

export interface Registered {
  fn: RegisteredFunction;
  trigger: string;
}

/** The app's Durable functions by lower-cased name and trigger type. */
export class DurableFunctions {
  readonly orchestrators = new Map<string, Registered>();
  readonly activities = new Map<string, Registered>();
  readonly entities = new Map<string, Registered>();

  constructor(functions: Iterable<RegisteredFunction>) {
    for (const fn of functions) {
      const t = triggerOf(fn);
      const type = t?.[1].type?.toLowerCase();
      const entry = { fn, trigger: t?.[0] ?? '' };
      const key = fn.metadata.name.toLowerCase();
      if (type === 'orchestrationtrigger') this.orchestrators.set(key, entry);
      else if (type === 'activitytrigger') this.activities.set(key, entry);
      else if (type === 'entitytrigger') this.entities.set(key, entry);
    }
  }
}
