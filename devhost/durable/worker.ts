// What the engine hands the worker and reads back: the orchestrator's replay request and result, and
// an activity's completion (§5, §8).
import type { RpcTypedData } from '../rpcTypes.js';
import type { InvocationOutcome } from '../invoke.js';
import { EventType, type HistoryEvent } from './history.js';
import type { Completion, InstanceRow, ReplayState } from './model.js';
import { resultInError, type OrchestratorOutcome, type OrchestratorResult } from './protocol.js';
import type { Inbox } from './episode/inbox.js';

/** The extension's ParseToJToken: null → null, blank → "", JSON → value, other text → the text. */
export function parseJsonText(text: string | null | undefined): unknown {
  if (text === null || text === undefined) return null;
  if (text.trim() === '') return '';
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** The orchestration trigger's payload: the whole history, then this episode's OrchestratorStarted and new events. */
export function replayRequest(
  instanceId: string,
  row: InstanceRow,
  state: ReplayState,
  history: readonly HistoryEvent[],
  inbox: Inbox,
): Record<string, unknown> {
  const past = history.map((e) =>
    e.EventType === EventType.OrchestratorStarted || e.IsPlayed ? e : { ...e, IsPlayed: true },
  );
  return {
    history: [...past, inbox.orchestratorStarted, ...inbox.newEvents],
    input: parseJsonText(state.executionInput !== undefined ? state.executionInput : row.Input),
    instanceId,
    isReplaying: !inbox.isFirstEpisode,
    parentInstanceId: row.ParentInstanceId,
    upperSchemaVersion: 1,
    upperSchemaVersionNew: 2,
    longRunningTimerIntervalDuration: '3.00:00:00',
    maximumShortTimerDuration: '6.00:00:00',
    defaultHttpAsyncRequestSleepTimeMillseconds: 30000,
  };
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The orchestrator's return value (JSON text), or the state the library attached to its error. */
export function orchestratorOutcome(
  outcome: InvocationOutcome,
  functionName: string,
): OrchestratorOutcome {
  if (outcome.ok) {
    const rv = outcome.response.returnValue;
    const text = rv?.json || rv?.string;
    const result = text ? (JSON.parse(text) as OrchestratorResult) : undefined;
    return { kind: 'returned', result };
  }
  const message = errorMessage(outcome.error);
  return { kind: 'threw', functionName, message, result: resultInError(message) };
}

/** Decodes an activity's return TypedData into the JSON text TaskCompleted.Result carries (§8.2). */
function resultText(data: RpcTypedData | null | undefined): string | null {
  if (!data) return null;
  if (data.json !== undefined) return data.json;
  if (data.string !== undefined) return JSON.stringify(data.string);
  if (data.int !== undefined) return String(data.int);
  if (data.double !== undefined) return String(data.double);
  if (data.bytes !== undefined) return JSON.stringify(Buffer.from(data.bytes).toString('base64'));
  return null;
}

export function activityCompletion(outcome: InvocationOutcome, functionName: string): Completion {
  if (outcome.ok) return { ok: true, result: resultText(outcome.response.returnValue) };
  const err = outcome.error;
  return {
    ok: false,
    reason: `Activity function '${functionName}' failed: ${errorMessage(err)}`,
    details: JSON.stringify({
      message: errorMessage(err),
      stack: err instanceof Error ? (err.stack ?? '') : '',
    }),
  };
}
