// Every Table storage row codec of the Durable engine, with the one long-string scheme (`encodeLarge`):
// history events (§12.2), Instances rows (§12.1), task and message rows and the sentinel (checkpoint).
import { EventType, OrchestrationStatus, type HistoryEvent } from './history.js';
import type {
  Completion,
  EntityState,
  FollowUp,
  InboundMessage,
  InstanceRow,
  PendingTask,
  ReplayState,
} from './model.js';
import type { RuntimeStatus } from './types.js';

export const SENTINEL = 'sentinel';

/** Fields that hold objects; Table storage keeps them as JSON text (as the Azure Storage provider does). */
const COMPLEX_FIELDS = new Set([
  'OrchestrationInstance',
  'ParentInstance',
  'Tags',
  'FailureDetails',
  'ParentTraceContext',
  'Correlation',
]);
/** Table storage string properties hold at most 32K UTF-16 characters; longer values are split. */
const CHUNK = 30_000;
const RESERVED = new Set([
  'partitionKey',
  'rowKey',
  'etag',
  'timestamp',
  'odata.etag',
  'Timestamp',
]);

/** Splits long strings across `<Name>`, `<Name>__1`, … with `<Name>__n` holding the part count. */
export function encodeLarge(props: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(props)) {
    if (typeof v === 'string' && v.length > CHUNK) {
      const parts = Math.ceil(v.length / CHUNK);
      out[k] = v.slice(0, CHUNK);
      for (let i = 1; i < parts; i++) out[`${k}__${i}`] = v.slice(i * CHUNK, (i + 1) * CHUNK);
      out[`${k}__n`] = parts;
    } else out[k] = v;
  }
  return out;
}

/**
 * Joins what `encodeLarge` split. Rows written before `<Name>__n` existed (the replay state's columns) carry
 * no count: their consecutive parts are joined until one is missing.
 */
export function decodeLarge(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) {
    if (/__(\d+|n)$/.test(k) || RESERVED.has(k)) continue;
    if (typeof v !== 'string') {
      out[k] = v;
      continue;
    }
    const n = row[`${k}__n`];
    const count = typeof n === 'number' ? n : Number.POSITIVE_INFINITY;
    let s = v;
    for (let i = 1; i < count; i++) {
      const part = row[`${k}__${i}`];
      if (typeof part === 'string') s += part;
      else if (count === Number.POSITIVE_INFINITY) break;
    }
    out[k] = s;
  }
  return out;
}

/** A history row (§12.2): EventType as its name, `_Timestamp`, complex fields as JSON, nulls left out. */
export function eventToRow(
  e: HistoryEvent,
  executionId: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  const row: Record<string, unknown> = { ExecutionId: executionId, ...extra };
  for (const [k, v] of Object.entries(e)) {
    if (v === null || v === undefined) continue;
    if (k === 'EventType') row.EventType = EventType[v as number];
    else if (k === 'Timestamp') row._Timestamp = v;
    else if (k === 'OrchestrationStatus')
      row.OrchestrationStatus = OrchestrationStatus[v as number];
    else if (COMPLEX_FIELDS.has(k)) row[k] = JSON.stringify(v);
    else row[k] = v;
  }
  return encodeLarge(row);
}

/** Fields that DTFx serialises as null when empty; Table storage drops nulls, so reading puts them back. */
const NULLABLE: Partial<Record<EventType, string[]>> = {
  [EventType.ExecutionStarted]: [
    'Input',
    'ParentInstance',
    'Tags',
    'Correlation',
    'ParentTraceContext',
    'ScheduledStartTime',
  ],
  [EventType.ExecutionCompleted]: ['Result', 'FailureDetails'],
  [EventType.ExecutionTerminated]: ['Input'],
  [EventType.TaskScheduled]: ['Input'],
  [EventType.TaskCompleted]: ['Result'],
  [EventType.TaskFailed]: ['FailureDetails'],
  [EventType.SubOrchestrationInstanceCreated]: ['Input'],
  [EventType.SubOrchestrationInstanceCompleted]: ['Result'],
  [EventType.SubOrchestrationInstanceFailed]: ['FailureDetails'],
  [EventType.EventSent]: ['Input'],
  [EventType.EventRaised]: ['Input'],
  [EventType.ContinueAsNew]: ['Result'],
};

export function rowToEvent(raw: Record<string, unknown>): HistoryEvent {
  const row = decodeLarge(raw);
  const e: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) {
    if (k === 'ExecutionId' || k.startsWith('_x')) continue;
    if (k === 'EventType') e.EventType = EventType[v as keyof typeof EventType];
    else if (k === '_Timestamp') e.Timestamp = v;
    else if (k === 'OrchestrationStatus')
      e.OrchestrationStatus = OrchestrationStatus[v as keyof typeof OrchestrationStatus];
    else if (COMPLEX_FIELDS.has(k) && typeof v === 'string') e[k] = JSON.parse(v) as unknown;
    else e[k] = v;
  }
  // The library parses `Result`/`Input` as JSON: a missing one must come back as null, not undefined.
  for (const field of NULLABLE[e.EventType as EventType] ?? []) if (!(field in e)) e[field] = null;
  return e as HistoryEvent;
}

/** RowKey of the n-th event of an execution: 16 upper-case hex digits (`ToString("X16")`). */
export function ordinalKey(n: number): string {
  return n.toString(16).toUpperCase().padStart(16, '0');
}

/** PartitionKey escaping of the Azure Storage provider (KeySanitation.EscapePartitionKey). */
export function escapePartitionKey(id: string): string {
  let out = '';
  for (const ch of id) {
    const c = ch.charCodeAt(0);
    if (ch === '^') out += '^^';
    else if (ch === '/') out += '^0';
    else if (ch === '\\') out += '^1';
    else if (ch === '#') out += '^2';
    else if (ch === '?') out += '^3';
    else if (c <= 0x1f || (c >= 0x7f && c <= 0x9f)) out += '^' + String.fromCharCode(0xc0 + c);
    else out += ch;
  }
  return out;
}

export function unescapePartitionKey(key: string): string {
  let out = '';
  for (let i = 0; i < key.length; i++) {
    const ch = key[i]!;
    if (ch !== '^' || i + 1 >= key.length) {
      out += ch;
      continue;
    }
    const next = key[++i]!;
    if (next === '^') out += '^';
    else if (next === '0') out += '/';
    else if (next === '1') out += '\\';
    else if (next === '2') out += '#';
    else if (next === '3') out += '?';
    else out += String.fromCharCode(next.charCodeAt(0) - 0xc0);
  }
  return out;
}

/** A string property, or the fallback when absent or of another type. */
export function text(v: unknown, fallback = ''): string {
  return typeof v === 'string' ? v : fallback;
}

function textOrNull(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

/** An Instances row as Table storage properties: nulls are left out. */
export function instanceToEntity(row: InstanceRow): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) if (v !== null && v !== undefined) out[k] = v;
  return out;
}

export function instanceFromEntity(e: Record<string, unknown>): InstanceRow {
  const date = (v: unknown): Date | null =>
    v instanceof Date ? v : typeof v === 'string' ? new Date(v) : null;
  return {
    Name: text(e.Name),
    Version: text(e.Version),
    Input: textOrNull(e.Input),
    Output: textOrNull(e.Output),
    CustomStatus: text(e.CustomStatus, 'null'),
    RuntimeStatus: text(e.RuntimeStatus, 'Pending') as RuntimeStatus,
    CreatedTime: date(e.CreatedTime) ?? new Date(0),
    LastUpdatedTime: date(e.LastUpdatedTime) ?? new Date(0),
    CompletedTime: date(e.CompletedTime),
    ExecutionId: text(e.ExecutionId),
    TaskHubName: text(e.TaskHubName),
    Generation: Number(e.Generation ?? 0),
    ParentInstanceId: textOrNull(e.ParentInstanceId),
    ParentExecutionId: textOrNull(e.ParentExecutionId),
    ParentTaskScheduledId:
      typeof e.ParentTaskScheduledId === 'number' ? e.ParentTaskScheduledId : null,
    ParentName: textOrNull(e.ParentName),
  };
}

/** A task row (`~t~…`) of an execution. */
export function taskToRow(t: PendingTask, executionId: string): Record<string, unknown> {
  const row: Record<string, unknown> = {
    Kind: t.kind,
    TaskId: t.sequenceId,
    Name: t.name,
    Episode: t.episode,
    ExecutionId: executionId,
  };
  if (t.input !== null) row.Input = t.input;
  if (t.fireAt) row.FireAt = t.fireAt;
  if (t.childId) row.ChildId = t.childId;
  if (t.target) row.Target = t.target;
  if (t.message) row.Message = t.message;
  return encodeLarge(row);
}

/** The completion columns a durable completion (a sub-orchestration's) merges into its task row. */
export function completionToRow(c: Completion): Record<string, unknown> {
  if (c.ok)
    return { Done: true, Failed: false, ...(c.result !== null ? { Result: c.result } : {}) };
  return { Done: true, Failed: true, Reason: c.reason, Details: c.details };
}

export function taskFromRow(raw: Record<string, unknown>): PendingTask & { executionId: string } {
  const r = decodeLarge(raw);
  const task: PendingTask & { executionId: string } = {
    key: String(raw.rowKey),
    sequenceId: Number(r.TaskId),
    kind: String(r.Kind) as PendingTask['kind'],
    name: text(r.Name),
    input: textOrNull(r.Input),
    episode: Number(r.Episode ?? 0),
    executionId: text(r.ExecutionId),
    ...(typeof r.FireAt === 'string' ? { fireAt: r.FireAt } : {}),
    ...(typeof r.ChildId === 'string' ? { childId: r.ChildId } : {}),
    ...(typeof r.Target === 'string' ? { target: r.Target } : {}),
    ...(typeof r.Message === 'string' ? { message: r.Message } : {}),
  };
  if (r.Done === true) {
    task.completion =
      r.Failed === true
        ? { ok: false, reason: text(r.Reason), details: text(r.Details) }
        : { ok: true, result: textOrNull(r.Result) };
  }
  return task;
}

/** A message row (`~m~…`). */
export function messageToRow(m: InboundMessage): Record<string, unknown> {
  return encodeLarge({
    Kind: m.kind,
    Name: m.name,
    ...(m.input !== null ? { Input: m.input } : {}),
  });
}

export function messageFromRow(raw: Record<string, unknown>): InboundMessage {
  const r = decodeLarge(raw);
  return {
    key: String(raw.rowKey),
    kind: String(r.Kind) as InboundMessage['kind'],
    name: text(r.Name),
    input: textOrNull(r.Input),
  };
}

/** The sentinel of an orchestration: the checkpoint columns and the replay state (as `State`, split). */
export function checkpointToRow(state: ReplayState, at: Date): Record<string, unknown> {
  return {
    ExecutionId: state.executionId,
    IsCheckpointComplete: true,
    CheckpointCompletedTimestamp: at,
    HistoryCount: state.historyLength,
    ...encodeLarge({ State: JSON.stringify(state) }),
  };
}

/** The replay state in a sentinel, whatever number of columns it spans (and whatever version wrote it). */
export function stateFromCheckpoint(row: Record<string, unknown>): ReplayState | undefined {
  const json = decodeLarge(row).State;
  if (typeof json !== 'string' || json === '') return undefined;
  return upgradeState(JSON.parse(json) as Record<string, unknown>);
}

/** The sentinel of an entity: whether it exists and its state. */
export function entityToRow(e: EntityState): Record<string, unknown> {
  return encodeLarge({
    EntityExists: e.exists,
    ...(e.state !== null ? { EntityState: e.state } : {}),
  });
}

export function entityFromRow(raw: Record<string, unknown>): EntityState | undefined {
  const r = decodeLarge(raw);
  if (typeof r.EntityState !== 'string' && r.EntityExists === undefined) return undefined;
  return { exists: r.EntityExists === true, state: textOrNull(r.EntityState) };
}

interface LegacyRetry {
  fn: 'activity' | 'suborch';
  name: string;
  input: string | null;
  instanceId?: string;
  options: FollowUpCall['options'];
  failures: number;
}
type FollowUpCall = Extract<FollowUp, { kind: 'retryAttempt' }>['call'];
type LegacyEntry =
  | { kind: 'retryAttempt' | 'retryTimer'; retry: LegacyRetry }
  | { kind: 'longTimer'; final: string; root: number };

function upgradeFollowUp(o: LegacyEntry): FollowUp {
  if (o.kind === 'longTimer') return { kind: 'longTimerLeg', fireAt: o.final, timerId: o.root };
  const r = o.retry;
  const call: FollowUpCall = {
    target: r.fn === 'activity' ? 'activity' : 'subOrchestration',
    name: r.name,
    input: r.input,
    ...(r.instanceId ? { instanceId: r.instanceId } : {}),
    options: r.options,
    failedAttempts: r.failures,
  };
  return { kind: o.kind, call };
}

/** States written before the fields were renamed (`historyCount`, `nextId`, `open`, …) read as today's. */
function upgradeState(s: Record<string, unknown>): ReplayState {
  if (!('nextId' in s)) return s as unknown as ReplayState;
  const open = (s.open ?? {}) as Record<string, LegacyEntry>;
  return {
    executionId: s.executionId as string,
    episode: s.episode as number,
    historyLength: s.historyCount as number,
    nextSequenceId: s.nextId as number,
    scheduledActionCount: s.units as number,
    hostSequenceIds: (s.dynIds ?? []) as number[],
    followUps: Object.fromEntries(Object.entries(open).map(([k, o]) => [k, upgradeFollowUp(o)])),
    ...(s.carry ? { carriedEvents: s.carry as ReplayState['carriedEvents'] } : {}),
    ...(s.input !== undefined ? { executionInput: s.input as string | null } : {}),
    status: s.status as RuntimeStatus,
    output: s.output as string | null,
    customStatus: s.customStatus as string,
  };
}
