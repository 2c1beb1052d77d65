// Fault injection (`/dev/faults`): by path prefix with `*` wildcards, a status (with Retry-After) and/or
// latency, a number of times, optionally for one method.
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Reply } from './http.js';

export const faultSchema = z.object({
  route: z.string().min(1),
  method: z.string().optional(),
  status: z.number().int().min(400).max(599).optional(),
  retryAfter: z.number().min(0).optional(),
  times: z.number().int().positive().default(1),
  latencyMs: z.number().int().min(0).max(60_000).optional(),
});

interface Fault {
  id: string;
  route: RegExp;
  pattern: string;
  method?: string;
  status?: number;
  retryAfter?: number;
  times: number;
  latencyMs?: number;
}

/** A path prefix with `*` wildcards as an anchored regular expression. */
export function routePattern(route: string): RegExp {
  return new RegExp(`^${route.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}`);
}

/** What an injected status answers: the throttling body for 429, Partner Center's envelope otherwise. */
export function faultReply(status: number, retryAfter?: number): Reply {
  return {
    status,
    headers: retryAfter !== undefined ? { 'retry-after': String(retryAfter) } : {},
    body:
      status === 429
        ? {
            statusCode: 429,
            message: `Rate limit is exceeded. Try again in ${retryAfter ?? 1} seconds.`,
          }
        : {
            code: 800003,
            description: 'Injected failure from the sandbox.',
            data: [],
            source: 'PartnerFD',
          },
  };
}

export class Faults {
  readonly #faults: Fault[] = [];

  add(input: z.infer<typeof faultSchema>): string {
    const fault: Fault = {
      id: randomUUID(),
      route: routePattern(input.route),
      pattern: input.route,
      times: input.times,
      ...(input.method ? { method: input.method.toUpperCase() } : {}),
      ...(input.status ? { status: input.status } : {}),
      ...(input.retryAfter !== undefined ? { retryAfter: input.retryAfter } : {}),
      ...(input.latencyMs ? { latencyMs: input.latencyMs } : {}),
    };
    this.#faults.push(fault);
    return fault.id;
  }

  list(): Omit<Fault, 'route'>[] {
    return this.#faults.map(({ route: _r, ...f }) => f);
  }

  clear(): void {
    this.#faults.length = 0;
  }

  /** Takes one use of the first fault that matches; waits its latency; its reply when it has a status. */
  async inject(method: string, path: string): Promise<Reply | undefined> {
    const f = this.#faults.find(
      (x) => x.times > 0 && x.route.test(path) && (!x.method || x.method === method),
    );
    if (!f) return undefined;
    f.times--;
    if (f.latencyMs) await new Promise((r) => setTimeout(r, f.latencyMs));
    return f.status ? faultReply(f.status, f.retryAfter) : undefined;
  }
}
