// The status API's shapes: the instance payload and its `historyEvents` (as the extension builds them).
import { EventType, OrchestrationStatus, type HistoryEvent } from './history.js';
import type { InstanceRow } from './model.js';
import type { InstanceStatusPayload } from './types.js';
import { parseJsonText } from './worker.js';

/** `yyyy-MM-ddTHH:mm:ssZ`, how the extension prints status times. */
export function durableTime(d: Date): string {
  return d.toISOString().slice(0, 19) + 'Z';
}

/** The status payload of an instance row. */
export function statusPayload(
  id: string,
  row: InstanceRow,
  showInput: boolean,
): InstanceStatusPayload {
  return {
    name: row.Name,
    instanceId: id,
    runtimeStatus: row.RuntimeStatus,
    input: showInput ? parseJsonText(row.Input) : null,
    customStatus: parseJsonText(row.CustomStatus === 'null' ? null : row.CustomStatus),
    output: parseJsonText(row.Output),
    createdTime: durableTime(row.CreatedTime),
    lastUpdatedTime: durableTime(row.LastUpdatedTime),
  };
}

/** The status API's `historyEvents` (DurableClient.GetDurableOrchestrationStatusAsync's transformation). */
export function historyForStatus(
  history: HistoryEvent[],
  showOutput: boolean,
  showInput: boolean,
): Record<string, unknown>[] {
  const scheduled = new Map<number, HistoryEvent>();
  const completedIds = new Set<number>();
  for (const e of history) {
    if (
      e.EventType === EventType.TaskScheduled ||
      e.EventType === EventType.SubOrchestrationInstanceCreated
    )
      scheduled.set(e.EventId, e);
    if (typeof e.TaskScheduledId === 'number') completedIds.add(e.TaskScheduledId);
  }
  const out: Record<string, unknown>[] = [];
  for (const e of history) {
    const type = e.EventType;
    if (type === EventType.OrchestratorStarted || type === EventType.OrchestratorCompleted)
      continue;
    if (
      (type === EventType.TaskScheduled || type === EventType.SubOrchestrationInstanceCreated) &&
      completedIds.has(e.EventId)
    )
      continue;
    const o: Record<string, unknown> = { ...e, EventType: EventType[type] };
    delete o.EventId;
    delete o.IsPlayed;
    if (type === EventType.ExecutionStarted) {
      o.FunctionName = e.Name;
      for (const k of ['Name', 'OrchestrationInstance', 'ParentInstance', 'Version', 'Tags'])
        delete o[k];
    }
    if (typeof e.TaskScheduledId === 'number') {
      const s = scheduled.get(e.TaskScheduledId);
      if (s) {
        o.FunctionName = s.Name;
        o.ScheduledTime = s.Timestamp;
        if (showInput) o.Input = s.Input;
      }
    }
    if (type === EventType.TimerFired) delete o.TimerId;
    if (typeof o.OrchestrationStatus === 'number')
      o.OrchestrationStatus = OrchestrationStatus[o.OrchestrationStatus];
    if ('Result' in o) {
      if (showOutput) o.Result = parseJsonText(o.Result as string | null);
      else delete o.Result;
    }
    if (!showInput) delete o.Input;
    out.push(o);
  }
  return out;
}
