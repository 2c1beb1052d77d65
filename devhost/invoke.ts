// One invocation, driven through the app's own ProgrammingModel exactly as the worker's InvocationHandler does.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { CoreState, RegisteredFunction } from './core.js';
import type { HostLogger } from './logger.js';
import type {
  CoreInvocationContext,
  RpcBindingInfo,
  RpcInvocationRequest,
  RpcInvocationResponse,
  RpcLogCategory,
  RpcLogLevel,
  RpcTypedData,
} from './rpcTypes.js';
import { FunctionTimeoutError } from './errors.js';

export type InvocationOutcome =
  | { ok: true; invocationId: string; response: RpcInvocationResponse; durationMs: number }
  | { ok: false; invocationId: string; error: unknown; durationMs: number };

export interface InvokeRequest {
  inputData: RpcInvocationRequest['inputData'];
  triggerMetadata?: RpcInvocationRequest['triggerMetadata'];
  retryContext?: RpcInvocationRequest['retryContext'];
  invocationId?: string;
}

/** Describes an error the way the host's log does: its message, or a string form for non-Errors. */
export function describeError(e: unknown): string {
  if (e instanceof Error) return e.stack ?? `${e.name}: ${e.message}`;
  try {
    return typeof e === 'string' ? e : JSON.stringify(e);
  } catch {
    return String(e);
  }
}

/** Supplies the value of a non-trigger input binding (e.g. `durableClient`) for an invocation. */
export type InputProvider = (fn: RegisteredFunction, bindingName: string) => RpcTypedData;

/**
 * Delivers the value an invocation gave an output binding (e.g. `queue`), after the function succeeded.
 * A handler that throws fails the invocation; its message should say which binding and where.
 */
export type OutputHandler = (
  fn: RegisteredFunction,
  bindingName: string,
  binding: RpcBindingInfo,
  data: RpcTypedData,
) => Promise<void>;

export class Invoker {
  readonly #inputProviders = new Map<string, InputProvider>();
  readonly #outputHandlers = new Map<string, OutputHandler>();

  constructor(
    private readonly core: CoreState,
    private readonly logger: HostLogger,
    private readonly timeout: { ms: number | undefined; text: string },
  ) {}

  /** Registers the host-side source of an input binding type (lower-case match). */
  addInputProvider(type: string, provider: InputProvider): void {
    this.#inputProviders.set(type.toLowerCase(), provider);
  }

  /** Registers the host-side sink of an output binding type (lower-case match), e.g. `queue`. */
  addOutputHandler(type: string, handler: OutputHandler): void {
    this.#outputHandlers.set(type.toLowerCase(), handler);
  }

  /** The output binding types a handler is registered for (lower case). */
  get outputTypes(): ReadonlySet<string> {
    return new Set(this.#outputHandlers.keys());
  }

  /**
   * Hands each output binding's value to its handler: `returnValue` for `$return`, else the binding's
   * `outputData` entry; bindings without a value (null/undefined) are skipped, as the worker omits them.
   */
  async #deliverOutputs(fn: RegisteredFunction, response: RpcInvocationResponse): Promise<void> {
    for (const [name, b] of Object.entries(fn.metadata.bindings)) {
      if (b.direction !== 'out') continue;
      const handler = this.#outputHandlers.get((b.type ?? '').toLowerCase());
      if (!handler) continue;
      const data =
        name === '$return'
          ? response.returnValue
          : response.outputData?.find((o) => o.name === name)?.data;
      if (data === null || data === undefined || Object.keys(data).length === 0) continue;
      await handler(fn, name, b, data);
    }
  }

  #extraInputs(fn: RegisteredFunction): RpcInvocationRequest['inputData'] {
    if (this.#inputProviders.size === 0) return [];
    const out: RpcInvocationRequest['inputData'] = [];
    for (const [name, b] of Object.entries(fn.metadata.bindings)) {
      if (b.direction !== 'in' || /trigger$/i.test(b.type ?? '')) continue;
      const provider = this.#inputProviders.get((b.type ?? '').toLowerCase());
      if (provider) out.push({ name, data: provider(fn, name) });
    }
    return out;
  }

  /** Routes a log line through the app's log hooks, then the logger (category as the host names it). */
  log(
    fnName: string | undefined,
    level: RpcLogLevel,
    category: RpcLogCategory,
    message: string,
    invocationContext?: unknown,
    hookData?: Record<string, unknown>,
  ): void {
    const hooks = this.core.hooks.log;
    if (hooks.length > 0) {
      const ctx = {
        level,
        message,
        category,
        hookData: hookData ?? {},
        appHookData: this.core.appHookData,
        invocationContext,
      };
      for (const hook of hooks) {
        try {
          // Log hooks are synchronous and may not fail the caller (worker semantics).
          void hook(ctx);
        } catch {
          /* swallowed, as the worker does */
        }
      }
      if (category === 'user') {
        level = ctx.level;
        message = ctx.message;
      }
    }
    const cat = fnName
      ? category === 'user'
        ? `Function.${fnName}.User`
        : `Function.${fnName}`
      : 'Host.General';
    this.logger.log(cat, level, message);
  }

  async invoke(
    fn: RegisteredFunction,
    req: InvokeRequest,
    reason: string,
  ): Promise<InvocationOutcome> {
    const model = this.core.programmingModel;
    const invocationId = req.invocationId ?? randomUUID();
    const name = fn.metadata.name;
    const started = performance.now();
    const category = `Function.${name}`;
    this.logger.info(
      category,
      `Executing 'Functions.${name}' (Reason='${reason}', Id=${invocationId})`,
    );
    let invocationContext: unknown;
    const hookData: Record<string, unknown> = {};
    const coreCtx: CoreInvocationContext = {
      invocationId,
      request: {
        invocationId,
        functionId: fn.id,
        inputData: [...req.inputData, ...this.#extraInputs(fn)],
        triggerMetadata: req.triggerMetadata ?? {},
        ...(req.retryContext ? { retryContext: req.retryContext } : {}),
      },
      metadata: fn.metadata,
      state: undefined,
      log: (level, cat, message) =>
        this.log(name, level, cat, message, invocationContext, hookData),
    };
    try {
      if (!model) throw new Error('The app registered no programming model.');
      const response = await this.#withTimeout(
        this.#pipeline(model, fn, coreCtx, hookData, (c) => (invocationContext = c)),
        name,
      );
      // Output bindings are flushed once the function succeeded; a failed send fails the invocation.
      if (this.#outputHandlers.size > 0) await this.#deliverOutputs(fn, response);
      const durationMs = performance.now() - started;
      this.logger.info(
        category,
        `Executed 'Functions.${name}' (Succeeded, Id=${invocationId}, Duration=${Math.round(durationMs)}ms)`,
      );
      return { ok: true, invocationId, response, durationMs };
    } catch (error) {
      const durationMs = performance.now() - started;
      this.logger.error(
        category,
        `Executed 'Functions.${name}' (Failed, Id=${invocationId}, Duration=${Math.round(durationMs)}ms)\n${describeError(error)}`,
      );
      return { ok: false, invocationId, error, durationMs };
    }
  }

  /** The library's pipeline: arguments, pre-invocation hooks, the handler, post-invocation hooks, reply. */
  async #pipeline(
    model: NonNullable<CoreState['programmingModel']>,
    fn: RegisteredFunction,
    coreCtx: CoreInvocationContext,
    hookData: Record<string, unknown>,
    onContext: (context: unknown) => void,
  ): Promise<RpcInvocationResponse> {
    const im = await model.getInvocationModel(coreCtx);
    const { context, inputs } = await im.getArguments();
    onContext(context);
    const pre = {
      hookData,
      appHookData: this.core.appHookData,
      invocationContext: context,
      inputs,
      functionCallback: fn.callback,
    };
    coreCtx.state = 'preInvocationHooks';
    try {
      await this.core.runHooks('preInvocation', pre);
    } finally {
      coreCtx.state = undefined;
    }
    const post = {
      hookData,
      appHookData: this.core.appHookData,
      invocationContext: context,
      inputs: pre.inputs,
      result: null as unknown,
      error: null as unknown,
    };
    coreCtx.state = 'invocation';
    try {
      post.result = await im.invokeFunction(context, pre.inputs, pre.functionCallback);
    } catch (e) {
      post.error = e;
    } finally {
      coreCtx.state = undefined;
    }
    coreCtx.state = 'postInvocationHooks';
    try {
      await this.core.runHooks('postInvocation', post);
    } finally {
      coreCtx.state = undefined;
    }
    // The worker's isError(): anything but null/undefined, so a post hook may rescue the call.
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- rethrows what the handler threw, as is
    if (post.error !== null && post.error !== undefined) throw post.error;
    return im.getResponse(context, post.result);
  }

  async #withTimeout<T>(work: Promise<T>, name: string): Promise<T> {
    const ms = this.timeout.ms;
    if (ms === undefined) return work;
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new FunctionTimeoutError(
              `Timeout value of ${this.timeout.text} was exceeded by function: Functions.${name}`,
            ),
          ),
        ms,
      );
      timer.unref();
    });
    try {
      return await Promise.race([work, expired]);
    } finally {
      clearTimeout(timer);
    }
  }
}
