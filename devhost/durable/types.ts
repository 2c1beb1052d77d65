// The Durable engine's public face: what the Durable HTTP API (and tests) can ask of it.

export type RuntimeStatus =
  | 'Pending'
  | 'Running'
  | 'Completed'
  | 'ContinuedAsNew'
  | 'Failed'
  | 'Canceled'
  | 'Terminated'
  | 'Suspended';

export const TERMINAL_STATUSES: ReadonlySet<RuntimeStatus> = new Set([
  'Completed',
  'Failed',
  'Canceled',
  'Terminated',
]);

/** The extension's StatusResponsePayload (HttpApiHandler), already shaped for JSON. */
export interface InstanceStatusPayload {
  name: string;
  instanceId: string;
  runtimeStatus: RuntimeStatus;
  input: unknown;
  customStatus: unknown;
  output: unknown;
  /** `yyyy-MM-ddTHH:mm:ssZ`, as the extension formats them */
  createdTime: string;
  lastUpdatedTime: string;
  historyEvents?: Record<string, unknown>[];
}

export interface StatusOptions {
  showHistory?: boolean;
  showHistoryOutput?: boolean;
  /** default true */
  showInput?: boolean;
}

export interface InstanceFilter {
  createdTimeFrom?: Date;
  createdTimeTo?: Date;
  runtimeStatus?: RuntimeStatus[];
  instanceIdPrefix?: string;
  showInput?: boolean;
  /** page size */
  top?: number;
  continuationToken?: string;
}

/** What an operation on an existing instance came to, mapped by the HTTP API to 202 / 404 / 410. */
export type ControlResult = 'accepted' | 'not-found' | 'gone';

export interface DurableEngineApi {
  readonly hubName: string;
  /** Starts an orchestration; `input` is the JSON value (undefined = none). Throws DurableError(400) for an unknown
   * orchestrator or a bad id, DurableError(409) if a non-terminal instance with that id exists. */
  start(name: string, instanceId: string | undefined, input: unknown): Promise<string>;
  getStatus(instanceId: string, opts?: StatusOptions): Promise<InstanceStatusPayload | undefined>;
  listInstances(
    filter: InstanceFilter,
  ): Promise<{ items: InstanceStatusPayload[]; continuationToken?: string }>;
  raiseEvent(instanceId: string, eventName: string, data: unknown): Promise<ControlResult>;
  terminate(instanceId: string, reason: string): Promise<ControlResult>;
  suspend(instanceId: string, reason: string): Promise<ControlResult>;
  resume(instanceId: string, reason: string): Promise<ControlResult>;
  /** Rewinds a Failed instance; 'gone' unless Failed. */
  rewind(instanceId: string, reason: string): Promise<ControlResult>;
  purge(instanceId: string): Promise<boolean>;
  purgeBy(filter: InstanceFilter): Promise<number>;
  signalEntity(name: string, key: string, operation: string, input: unknown): Promise<void>;
  readEntity(name: string, key: string): Promise<{ exists: boolean; state: unknown }>;
  /** Resolves when the instance reaches one of the statuses (tests, `?timeout=` waits). */
  waitFor?(
    instanceId: string,
    statuses: ReadonlySet<RuntimeStatus>,
    timeoutMs: number,
  ): Promise<InstanceStatusPayload | undefined>;
}
