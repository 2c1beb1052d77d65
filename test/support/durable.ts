// Drives the Durable HTTP API of a spawned local host, as curl or the portal would.
import type { InstanceStatusPayload } from '../../devhost/durable/types.js';
import type { DevhostProcess } from './devhost.js';

/** The status payload as the Durable HTTP API answers it. */
export type Status = InstanceStatusPayload;

const TERMINAL = new Set(['Completed', 'Failed', 'Terminated', 'Canceled']);

export class DurableApi {
  constructor(private readonly host: DevhostProcess) {}

  url(path: string): string {
    return `${this.host.url}/runtime/webhooks/durabletask/${path}`;
  }

  async start(name: string, id?: string, input?: unknown): Promise<string> {
    const res = await fetch(
      this.url(`orchestrators/${name}${id ? `/${encodeURIComponent(id)}` : ''}`),
      {
        method: 'POST',
        ...(input !== undefined
          ? { body: JSON.stringify(input), headers: { 'content-type': 'application/json' } }
          : {}),
      },
    );
    if (res.status !== 202)
      throw new Error(`start ${name} answered ${res.status}: ${await res.text()}`);
    return ((await res.json()) as { id: string }).id;
  }

  async status(id: string, query = ''): Promise<Status | undefined> {
    const res = await fetch(
      this.url(`instances/${encodeURIComponent(id)}${query ? `?${query}` : ''}`),
    );
    if (res.status === 404) return undefined;
    return (await res.json()) as Status;
  }

  /** Polls until the instance is in one of `statuses` (default: any terminal one). */
  async waitFor(
    id: string,
    statuses: Set<string> = TERMINAL,
    timeoutMs = 20_000,
    query = 'showHistory=true&showHistoryOutput=true',
  ): Promise<Status> {
    const end = Date.now() + timeoutMs;
    let last: Status | undefined;
    while (Date.now() < end) {
      last = await this.status(id, query);
      if (last && statuses.has(last.runtimeStatus)) return last;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(
      `instance ${id} did not reach ${[...statuses].join('/')} in time; last status: ${JSON.stringify(last)}`,
    );
  }

  async raise(id: string, event: string, data: unknown): Promise<number> {
    const res = await fetch(this.url(`instances/${encodeURIComponent(id)}/raiseEvent/${event}`), {
      method: 'POST',
      body: JSON.stringify(data),
      headers: { 'content-type': 'application/json' },
    });
    return res.status;
  }

  async post(id: string, op: 'terminate' | 'suspend' | 'resume', reason = ''): Promise<number> {
    return (
      await fetch(
        this.url(`instances/${encodeURIComponent(id)}/${op}?reason=${encodeURIComponent(reason)}`),
        { method: 'POST' },
      )
    ).status;
  }

  async advance(duration: string): Promise<void> {
    const res = await fetch(`${this.host.url}/admin/devhost/clock`, {
      method: 'POST',
      body: JSON.stringify({ advanceBy: duration }),
    });
    if (res.status !== 200) throw new Error(`clock answered ${res.status}`);
  }
}

export function eventsOf(s: Status, type: string): Record<string, unknown>[] {
  return (s.historyEvents ?? []).filter((e) => e.EventType === type);
}
