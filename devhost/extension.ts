// The host's extension seam: what an extension (e.g. Durable) gets from the host, and what it gives back.
import type { Clock } from './clock.js';
import type { CoreState, RegisteredFunction } from './core.js';
import type { AuthKeys, ExtensionHandler, HttpLimits } from './http/server.js';
import type { Invoker } from './invoke.js';
import type { HostLogger } from './logger.js';
import type { HostOptions } from './settings.js';

/** Runs a function now for `POST /admin/functions/{name}`, given the body's `input` as text. */
export type AdminInvoker = (fn: RegisteredFunction, input: string) => void;

/** What extensions of the host get to work with. */
export interface HostContext {
  scriptRoot: string;
  options: HostOptions;
  core: CoreState;
  functions: Map<string, RegisteredFunction>;
  invoker: Invoker;
  logger: HostLogger;
  clock: Clock;
  storageConnection: string | undefined;
  baseUrl: string;
  /** the keys enforced under --enable-auth */
  keys: AuthKeys | undefined;
  limits: HttpLimits;
  /** how the admin API runs a function, by lower-case trigger type (else the input goes as a string) */
  adminInvokers: Map<string, AdminInvoker>;
}

/** A started extension: its host-owned routes (tried before the app's triggers) and how to stop it. */
export interface StartedExtension {
  routes?: ExtensionHandler;
  close?(): Promise<void>;
}

/**
 * An extension the host starts once the app is loaded and the port is open, before timers are armed
 * and the first request is let in. `start` returns undefined when the app does not use it.
 */
export interface HostExtension<T extends StartedExtension = StartedExtension> {
  readonly name: string;
  /**
   * The binding types (triggers, inputs, outputs; matched case-insensitively) this extension runs.
   * The host warns at start-up about every binding of a type that neither it nor an extension runs.
   */
  readonly bindingTypes: readonly string[];
  start(ctx: HostContext): Promise<T | undefined>;
}
