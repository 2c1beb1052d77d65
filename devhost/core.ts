// The `@azure/functions-core` module as the Node worker serves it: registration, hooks, logging.
import Module from 'node:module';
import path from 'node:path';
import type {
  FunctionCallback,
  FunctionMetadata,
  ProgrammingModel,
  RpcLogCategory,
  RpcLogLevel,
} from './rpcTypes.js';

export const WORKER_VERSION = '3.12.0-devhost';
export const HOST_VERSION = '4.1040.0-devhost';

type Hook = (ctx: unknown) => unknown;
export type HookName = 'preInvocation' | 'postInvocation' | 'appStart' | 'appTerminate' | 'log';

/** The worker's Disposable: `dispose()` runs the callback once; `from()` combines several. */
export class Disposable {
  #callOnDispose: (() => unknown) | undefined;
  constructor(callOnDispose: () => unknown) {
    this.#callOnDispose = callOnDispose;
  }
  static from(...inputs: { dispose(): unknown }[]): Disposable {
    return new Disposable(() => {
      for (const d of inputs) d.dispose();
    });
  }
  dispose(): void {
    const fn = this.#callOnDispose;
    this.#callOnDispose = undefined;
    fn?.();
  }
}

export interface RegisteredFunction {
  id: string;
  metadata: FunctionMetadata;
  callback: FunctionCallback;
}

/** A system error the library recognises (it maps these to friendlier messages). */
class AzFuncRangeError extends RangeError {
  isAzureFunctionsSystemError = true;
}

/** State behind one fake core: what the app registered while it loaded. */
export class CoreState {
  readonly functions = new Map<string, RegisteredFunction>();
  readonly hooks: Record<HookName, Hook[]> = {
    preInvocation: [],
    postInvocation: [],
    appStart: [],
    appTerminate: [],
    log: [],
  };
  /** Shared by every hook of the app (`appHookData`). */
  readonly appHookData: Record<string, unknown> = {};
  programmingModel: ProgrammingModel | undefined;
  /** The entry point being loaded, for `scriptFile`/`directory` as the worker records them. */
  currentFile: string | undefined;
  #locked = false;

  constructor(
    private readonly systemLog: (level: RpcLogLevel, category: RpcLogCategory, msg: string) => void,
  ) {}

  /** Called once indexing is over: later registrations throw, as in the worker. */
  lock(): void {
    this.#locked = true;
  }

  readonly api = {
    version: WORKER_VERSION,
    get hostVersion(): string {
      return HOST_VERSION;
    },
    Disposable,
    setProgrammingModel: (model: ProgrammingModel): void => {
      if (this.programmingModel) {
        this.systemLog(
          'information',
          'system',
          `Setting Node.js programming model to "${model.name}" version "${model.version}"`,
        );
      }
      this.programmingModel = model;
    },
    getProgrammingModel: (): ProgrammingModel | undefined => this.programmingModel,
    registerFunction: (metadata: FunctionMetadata, callback: FunctionCallback): Disposable => {
      if (this.#locked) throw new Error('A function can only be registered during app startup.');
      const id = metadata.functionId || metadata.name;
      if (this.functions.has(id)) {
        throw new Error(`A function with id "${id}" has already been registered.`);
      }
      const file = this.currentFile;
      const full: FunctionMetadata = {
        ...metadata,
        functionId: id,
        scriptFile: file ? path.basename(file) : 'unknown',
        directory: file ? path.dirname(file) : 'unknown',
      };
      this.functions.set(id, { id, metadata: full, callback });
      return new Disposable(() => {
        if (this.#locked) throw new Error('A function can only be disposed during app startup.');
        this.functions.delete(id);
      });
    },
    registerHook: (name: string, callback: Hook): Disposable => {
      const list = (this.hooks as Record<string, Hook[] | undefined>)[name];
      if (!list) throw new AzFuncRangeError(`Unrecognized hook "${name}"`);
      list.push(callback);
      return new Disposable(() => {
        const i = list.indexOf(callback);
        if (i >= 0) list.splice(i, 1);
      });
    },
    log: (level: RpcLogLevel, category: RpcLogCategory, message: string): void => {
      this.systemLog(level, category, message);
    },
  };

  /** Runs hooks of one kind in registration order, awaiting each (a throw fails the caller). */
  async runHooks(name: HookName, ctx: unknown): Promise<void> {
    for (const hook of [...this.hooks[name]]) await hook(ctx);
  }
}

let installed: CoreState | undefined;

/**
 * Makes `require('@azure/functions-core')` answer with this state's API, exactly as the worker's
 * `setupCoreModule` does, by proxying `Module.prototype.require`. One app per process: the library
 * caches the core it found for the life of the process.
 */
export function installCoreModule(state: CoreState): void {
  if (installed) throw new Error('A Functions app is already loaded in this process.');
  installed = state;
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const original = Module.prototype.require;
  Module.prototype.require = new Proxy(original, {
    apply(target, thisArg, args: [string]) {
      if (args[0] === '@azure/functions-core') return state.api;
      return Reflect.apply(target, thisArg, args) as unknown;
    },
  });
}
