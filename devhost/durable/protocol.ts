// The out-of-process protocol's orchestrator side: the actions durable-functions 3.x returns (§6).

/** The library's ActionType values (durable-functions `actions/ActionType`). */
export enum ActionType {
  CallActivity = 0,
  CallActivityWithRetry = 1,
  CallSubOrchestrator = 2,
  CallSubOrchestratorWithRetry = 3,
  ContinueAsNew = 4,
  CreateTimer = 5,
  WaitForExternalEvent = 6,
  CallEntity = 7,
  CallHttp = 8,
  SignalEntity = 9,
  WhenAny = 11,
  WhenAll = 12,
  LockEntities = 13,
  ReleaseEntities = 14,
}

/** The library's RetryOptions as JSON. */
export interface RetryOptionsJson {
  firstRetryIntervalInMilliseconds: number;
  maxNumberOfAttempts: number;
  backoffCoefficient?: number;
  maxRetryIntervalInMilliseconds?: number;
  retryTimeoutInMilliseconds?: number;
}

export interface CallActivityAction {
  actionType: ActionType.CallActivity;
  functionName: string;
  input?: unknown;
}
export interface CallActivityWithRetryAction {
  actionType: ActionType.CallActivityWithRetry;
  functionName: string;
  retryOptions: RetryOptionsJson;
  input?: unknown;
}
export interface CallSubOrchestratorAction {
  actionType: ActionType.CallSubOrchestrator;
  functionName: string;
  instanceId?: string;
  input?: unknown;
}
export interface CallSubOrchestratorWithRetryAction {
  actionType: ActionType.CallSubOrchestratorWithRetry;
  functionName: string;
  retryOptions: RetryOptionsJson;
  instanceId?: string;
  input?: unknown;
}
export interface ContinueAsNewAction {
  actionType: ActionType.ContinueAsNew;
  input?: unknown;
}
export interface CreateTimerAction {
  actionType: ActionType.CreateTimer;
  /** ISO 8601 */
  fireAt: string;
  isCanceled?: boolean;
}
export interface WaitForExternalEventAction {
  actionType: ActionType.WaitForExternalEvent;
  externalEventName: string;
  reason?: string;
}
/** `instanceId` is the entity's scheduler id, `@<name>@<key>`. */
export interface CallEntityAction {
  actionType: ActionType.CallEntity;
  instanceId: string;
  operation: string;
  input?: unknown;
}
export interface SignalEntityAction {
  actionType: ActionType.SignalEntity;
  instanceId: string;
  operation: string;
  input?: unknown;
}
export interface CallHttpAction {
  actionType: ActionType.CallHttp;
  httpRequest: unknown;
}
export interface WhenAnyAction {
  actionType: ActionType.WhenAny;
  compoundActions: Action[];
}
export interface WhenAllAction {
  actionType: ActionType.WhenAll;
  compoundActions: Action[];
}
export interface LockEntitiesAction {
  actionType: ActionType.LockEntities;
  lockSet: { name: string; key: string }[];
  lockRequestId?: string;
}
export interface ReleaseEntitiesAction {
  actionType: ActionType.ReleaseEntities;
}

export type Action =
  | CallActivityAction
  | CallActivityWithRetryAction
  | CallSubOrchestratorAction
  | CallSubOrchestratorWithRetryAction
  | ContinueAsNewAction
  | CreateTimerAction
  | WaitForExternalEventAction
  | CallEntityAction
  | SignalEntityAction
  | CallHttpAction
  | WhenAnyAction
  | WhenAllAction
  | LockEntitiesAction
  | ReleaseEntitiesAction;

/** Actions that take a sequence id when first scheduled (§6.1). */
export type SchedulingAction =
  | CallActivityAction
  | CallActivityWithRetryAction
  | CallSubOrchestratorAction
  | CallSubOrchestratorWithRetryAction
  | CreateTimerAction
  | CallEntityAction
  | SignalEntityAction
  | CallHttpAction
  | LockEntitiesAction;

/** What the orchestrator function returns (the library's OrchestratorState, schema V2). */
export interface OrchestratorResult {
  isDone?: boolean;
  /** one entry per top-level task in the order the orchestrator yielded them */
  actions?: Action[][];
  output?: unknown;
  error?: string;
  customStatus?: unknown;
  schemaVersion?: number;
}

/** How invoking the orchestrator went, as the episode needs it. */
export type OrchestratorOutcome =
  | { kind: 'returned'; result: OrchestratorResult | undefined }
  /** it threw; `result` is the state the library attached to the error, when it did */
  | { kind: 'threw'; functionName: string; message: string; result: OrchestratorResult | undefined }
  | { kind: 'missing'; name: string };

/** The label after which the library appends its state to an orchestrator's error message. */
const OUT_OF_PROC_DATA = '\n\n$OutOfProcData$:';

/** The state attached to an orchestrator error message, if any. */
export function resultInError(message: string): OrchestratorResult | undefined {
  const marker = message.indexOf(OUT_OF_PROC_DATA);
  if (marker < 0) return undefined;
  try {
    return JSON.parse(message.slice(marker + OUT_OF_PROC_DATA.length)) as OrchestratorResult;
  } catch {
    return undefined;
  }
}

function isCompound(a: Action): a is WhenAnyAction | WhenAllAction {
  return a.actionType === ActionType.WhenAny || a.actionType === ActionType.WhenAll;
}

/** Every non-compound action, depth-first. */
export function leafActions(actions: readonly Action[], out: Action[] = []): Action[] {
  for (const a of actions) {
    if (isCompound(a)) leafActions(a.compoundActions ?? [], out);
    else out.push(a);
  }
  return out;
}

/** Whether an action takes a sequence id (ContinueAsNew, WaitForExternalEvent and ReleaseEntities do not). */
export function isScheduling(a: Action): a is SchedulingAction {
  return (
    !isCompound(a) &&
    a.actionType !== ActionType.ContinueAsNew &&
    a.actionType !== ActionType.WaitForExternalEvent &&
    a.actionType !== ActionType.ReleaseEntities
  );
}

/** The id-taking actions depth-first, in the order the library numbers them (§6.1 costs). */
export function schedulingActions(actions: readonly Action[]): SchedulingAction[] {
  return leafActions(actions).filter(isScheduling);
}

const KINDS: Record<SchedulingAction['actionType'], string> = {
  [ActionType.CallActivity]: 'activity',
  [ActionType.CallActivityWithRetry]: 'activity',
  [ActionType.CallSubOrchestrator]: 'sub-orchestration',
  [ActionType.CallSubOrchestratorWithRetry]: 'sub-orchestration',
  [ActionType.CreateTimer]: 'timer',
  [ActionType.CallEntity]: 'entity call',
  [ActionType.CallHttp]: 'HTTP call',
  [ActionType.SignalEntity]: 'entity signal',
  [ActionType.LockEntities]: 'entity lock',
};

/** 'activity', 'timer', 'HTTP call', … */
export function actionKind(a: SchedulingAction): string {
  return KINDS[a.actionType];
}

/** How a non-determinism message names an action: `activity 'Name'`, `a timer`, … */
export function describeAction(a: SchedulingAction): string {
  switch (a.actionType) {
    case ActionType.CreateTimer:
      return 'a timer';
    case ActionType.CallEntity:
    case ActionType.SignalEntity:
      return `${actionKind(a)} '${a.operation}'`;
    case ActionType.CallHttp:
    case ActionType.LockEntities:
      return `${actionKind(a)} ''`;
    default:
      return `${actionKind(a)} '${a.functionName}'`;
  }
}
