// The host's HTTP route table: `<routePrefix>/<route>` per function, first match in function-name order.
import type { RegisteredFunction } from '../core.js';
import type { RpcBindingInfo } from '../rpcTypes.js';
import { parseRouteTemplate, type RouteTemplate } from './routeTemplate.js';
import { RouteTemplateError, StartupError } from '../errors.js';

export type AuthLevel = 'anonymous' | 'function' | 'admin';

export interface HttpRoute {
  fn: RegisteredFunction;
  triggerName: string;
  /** the template as the host shows it, prefix included */
  display: string;
  template: RouteTemplate;
  /** upper-case; undefined = every method */
  methods: Set<string> | undefined;
  authLevel: AuthLevel;
  /** where the HTTP response comes from: `$return` or a named http output binding */
  output: { name: string; isReturn: boolean } | undefined;
}

export function triggerOf(fn: RegisteredFunction): [string, RpcBindingInfo] | undefined {
  return Object.entries(fn.metadata.bindings).find(([, b]) => /trigger$/i.test(b.type ?? ''));
}

/** Builds the route table. Routes are tried in function-name order, as the real host does (#9876). */
export class Router {
  readonly routes: HttpRoute[];

  constructor(functions: Iterable<RegisteredFunction>, routePrefix: string) {
    const routes: HttpRoute[] = [];
    for (const fn of functions) {
      const trigger = triggerOf(fn);
      if (!trigger || trigger[1].type?.toLowerCase() !== 'httptrigger') continue;
      const [triggerName, binding] = trigger;
      const route =
        typeof binding.route === 'string' && binding.route.trim()
          ? binding.route.trim()
          : fn.metadata.name;
      const routeBody = route.replace(/^~?\//, '');
      const display = routePrefix ? `${routePrefix}/${routeBody}` : routeBody;
      if (/^admin(\/|$)/i.test(display) || /^runtime\/webhooks(\/|$)/i.test(display)) {
        throw new StartupError(
          `The route "${display}" of function "${fn.metadata.name}" conflicts with the host's reserved "admin" / "runtime" routes.`,
        );
      }
      let template: RouteTemplate;
      try {
        template = parseRouteTemplate(display);
      } catch (e) {
        if (e instanceof RouteTemplateError) {
          throw new StartupError(
            `Function "${fn.metadata.name}": invalid route "${route}": ${e.message}`,
          );
        }
        throw e;
      }
      const methods = Array.isArray(binding.methods)
        ? new Set((binding.methods as unknown[]).map((m) => String(m).toUpperCase()))
        : undefined;
      const level = (
        typeof binding.authLevel === 'string' ? binding.authLevel : 'function'
      ).toLowerCase();
      const authLevel: AuthLevel = level === 'anonymous' || level === 'admin' ? level : 'function';
      const outputEntry = Object.entries(fn.metadata.bindings).find(
        ([, b]) => b.direction === 'out' && b.type?.toLowerCase() === 'http',
      );
      routes.push({
        fn,
        triggerName,
        display,
        template,
        methods: methods && methods.size > 0 ? methods : undefined,
        authLevel,
        output: outputEntry
          ? { name: outputEntry[0], isReturn: outputEntry[0] === '$return' }
          : undefined,
      });
    }
    routes.sort((a, b) => {
      const x = a.fn.metadata.name.toLowerCase();
      const y = b.fn.metadata.name.toLowerCase();
      return x < y ? -1 : x > y ? 1 : 0;
    });
    this.routes = routes;
  }

  /** The first route whose template and method constraint both accept the request, or undefined. */
  match(
    method: string,
    path: string,
  ): { route: HttpRoute; params: Record<string, string> } | undefined {
    const m = method.toUpperCase();
    for (const route of this.routes) {
      if (route.methods && !route.methods.has(m)) continue;
      const params = route.template.match(path);
      if (params) return { route, params };
    }
    return undefined;
  }
}
