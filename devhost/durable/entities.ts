// Entity batches (§10): the requests in an entity's messages, the batch the worker runs, and the
// replies and signals it sends (keyed by request ids, so a re-run writes the same rows again).
import type { InvocationOutcome } from '../invoke.js';
import { MESSAGE_PREFIX, type EntityState, type InboundMessage } from './model.js';
import { errorMessage } from './worker.js';

/** Entity instance id: `@<lower-cased name>@<key>` (EntityId.js). */
export function entityInstanceId(name: string, key: string): string {
  return `@${name.toLowerCase()}@${key}`;
}

export function isEntityId(id: string): boolean {
  return id.startsWith('@');
}

/** `@name@key` → name and key. */
export function entityNameAndKey(id: string): { name: string; key: string } {
  const [, name = '', ...rest] = id.split('@');
  return { name, key: rest.join('@') };
}

/** One operation request, as an orchestration's or a client's message carries it. */
export interface EntityRequest {
  op?: string;
  signal?: boolean;
  /** JSON text */
  input?: string;
  id?: string;
  /** the calling orchestration */
  parent?: string;
}

export function entityRequest(m: InboundMessage): EntityRequest {
  try {
    return JSON.parse(m.input ?? '{}') as EntityRequest;
  } catch {
    return {};
  }
}

/** The message of a signal (`signal: true`, no reply). */
export function signalMessage(operation: string, input: string | undefined, id: string): string {
  return JSON.stringify({
    op: operation,
    signal: true,
    ...(input !== undefined ? { input } : {}),
    id,
  });
}

export interface OperationResult {
  isError?: boolean;
  result?: string;
}

export interface OutgoingSignal {
  target: { name: string; key: string };
  name: string;
  input?: string;
}

export interface BatchOutcome {
  results: OperationResult[];
  signals: OutgoingSignal[];
  next: EntityState;
}

/** The entity trigger's payload. */
export function batchRequest(
  self: { name: string; key: string },
  current: EntityState,
  requests: readonly EntityRequest[],
): Record<string, unknown> {
  return {
    self,
    exists: current.exists,
    state: current.state,
    batch: requests.map((r) => ({
      name: r.op ?? '',
      input: r.input ?? null,
      isSignal: r.signal === true,
    })),
  };
}

/** Every operation failed with `message`; the state stays. */
export function failedBatch(count: number, message: string, current: EntityState): BatchOutcome {
  const result = JSON.stringify({ message });
  return {
    results: Array.from({ length: count }, () => ({ isError: true, result })),
    signals: [],
    next: current,
  };
}

export function batchOutcome(
  outcome: InvocationOutcome,
  count: number,
  current: EntityState,
): BatchOutcome {
  const rv = outcome.ok ? outcome.response.returnValue : undefined;
  const text = rv?.json || rv?.string;
  if (!text) {
    const msg = outcome.ok ? 'The entity function returned nothing.' : errorMessage(outcome.error);
    return failedBatch(count, msg, current);
  }
  const out = JSON.parse(text) as {
    results?: OperationResult[];
    signals?: OutgoingSignal[];
    entityExists?: boolean;
    entityState?: string | null;
  };
  return {
    results: out.results ?? [],
    signals: out.signals ?? [],
    next: {
      exists: out.entityExists === true,
      state: out.entityExists ? (out.entityState ?? null) : null,
    },
  };
}

/** A message to deliver to another instance. */
export interface Delivery {
  to: string;
  message: InboundMessage;
}

/** Replies to calls (events named by the request id) and the signals the batch sent. */
export function batchDeliveries(
  ops: readonly InboundMessage[],
  requests: readonly EntityRequest[],
  outcome: BatchOutcome,
): Delivery[] {
  const out: Delivery[] = [];
  requests.forEach((r, i) => {
    if (r.signal || !r.parent || !r.id) return;
    const res = outcome.results[i] ?? { isError: true, result: '{}' };
    const input = JSON.stringify({
      result: res.result ?? null,
      ...(res.isError ? { exceptionType: 'Error' } : {}),
    });
    const key = `${MESSAGE_PREFIX}r~${r.id}`;
    out.push({ to: r.parent, message: { key, kind: 'event', name: r.id, input } });
  });
  outcome.signals.forEach((sig, i) => {
    const requestId = `${ops[0]!.key.slice(MESSAGE_PREFIX.length)}-${i}`;
    const input = signalMessage(sig.name, sig.input, requestId);
    out.push({
      to: entityInstanceId(sig.target.name, sig.target.key),
      message: { key: `${MESSAGE_PREFIX}s~${requestId}`, kind: 'entityOp', name: sig.name, input },
    });
  });
  return out;
}
