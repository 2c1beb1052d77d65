// History events as DTFx serializes them (PascalCase, EventType a number) and their Table storage rows.

export enum EventType {
  ExecutionStarted = 0,
  ExecutionCompleted = 1,
  ExecutionFailed = 2,
  ExecutionTerminated = 3,
  TaskScheduled = 4,
  TaskCompleted = 5,
  TaskFailed = 6,
  SubOrchestrationInstanceCreated = 7,
  SubOrchestrationInstanceCompleted = 8,
  SubOrchestrationInstanceFailed = 9,
  TimerCreated = 10,
  TimerFired = 11,
  OrchestratorStarted = 12,
  OrchestratorCompleted = 13,
  EventSent = 14,
  EventRaised = 15,
  ContinueAsNew = 16,
  GenericEvent = 17,
  HistoryState = 18,
  ExecutionSuspended = 19,
  ExecutionResumed = 20,
}

/** DTFx OrchestrationStatus numbers, as ExecutionCompleted carries them. */
export enum OrchestrationStatus {
  Running = 0,
  Completed = 1,
  ContinuedAsNew = 2,
  Failed = 3,
  Canceled = 4,
  Terminated = 5,
  Pending = 6,
  Suspended = 7,
}

/** One history event: `EventType`, `EventId`, `IsPlayed`, `Timestamp` plus the type's own fields. */
export interface HistoryEvent {
  EventType: EventType;
  EventId: number;
  IsPlayed: boolean;
  /** ISO 8601 UTC */
  Timestamp: string;
  [field: string]: unknown;
}

/** DTFx prints 7 fractional digits; JS has milliseconds, so the rest is zeros. */
export function dotnetTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$10000Z');
}

export function event(
  type: EventType,
  at: Date,
  fields: Record<string, unknown> = {},
  eventId = -1,
): HistoryEvent {
  return {
    EventType: type,
    EventId: eventId,
    IsPlayed: false,
    Timestamp: dotnetTime(at),
    ...fields,
  };
}

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
