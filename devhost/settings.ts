// host.json and local.settings.json: read, validated, and applied the way Core Tools does.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { MAX_REQUEST_BODY, type HttpLimits } from './http/server.js';
import { StartupError } from './errors.js';

/** .NET TimeSpan text (`hh:mm:ss`, `d.hh:mm:ss`, optional fraction) to milliseconds, or undefined. */
export function parseTimeSpan(text: string): number | undefined {
  const m = /^(?:(\d+)\.)?(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,7}))?)?$/.exec(text.trim());
  if (!m) return undefined;
  const [, d = '0', h = '0', min = '0', s = '0', frac = ''] = m;
  if (Number(h) > 23 || Number(min) > 59 || Number(s) > 59) return undefined;
  const ms = frac ? Math.round(Number(`0.${frac}`) * 1000) : 0;
  return (((Number(d) * 24 + Number(h)) * 60 + Number(min)) * 60 + Number(s)) * 1000 + ms;
}

const timeSpan = z.string().refine((s) => s === '-1' || parseTimeSpan(s) !== undefined, {
  message: 'expected a TimeSpan such as "00:05:00", or "-1"',
});
const intLike = z.coerce.number().int().positive();

const hostJsonSchema = z.looseObject({
  version: z.literal('2.0', { error: 'host.json "version" must be "2.0"' }),
  functionTimeout: timeSpan.optional(),
  functions: z.array(z.string()).optional(),
  logging: z
    .looseObject({
      logLevel: z.record(z.string(), z.string()).optional(),
    })
    .optional(),
  extensions: z
    .looseObject({
      http: z
        .looseObject({
          routePrefix: z.string().optional(),
          customHeaders: z.record(z.string(), z.string()).optional(),
          maxConcurrentRequests: intLike.optional(),
          maxOutstandingRequests: intLike.optional(),
        })
        .optional(),
      durableTask: z
        .looseObject({
          hubName: z.string().optional(),
          maxConcurrentActivityFunctions: intLike.optional(),
          maxConcurrentOrchestratorFunctions: intLike.optional(),
        })
        .optional(),
    })
    .optional(),
});
export type HostJson = z.infer<typeof hostJsonSchema>;

/** The parts of host.json the local host acts on, with the real host's defaults filled in. */
export interface HostOptions {
  raw: HostJson;
  routePrefix: string;
  /** milliseconds; undefined = unlimited (`-1`) */
  functionTimeoutMs: number | undefined;
  functionTimeoutText: string;
  allowList: string[] | undefined;
  logLevel: Record<string, string>;
  customHeaders: Record<string, string>;
  maxConcurrentRequests: number | undefined;
  durable: {
    hubName: string | undefined;
    maxConcurrentActivityFunctions: number | undefined;
    maxConcurrentOrchestratorFunctions: number | undefined;
  };
}

function formatIssues(file: string, error: z.ZodError): string {
  const first = error.issues[0];
  const where = first && first.path.length ? first.path.join('.') : '(root)';
  return `${file}: ${where}: ${first?.message ?? 'invalid'}`;
}

/**
 * Applies `AzureFunctionsJobHost__a__b=value` environment overrides onto host.json, as the host's
 * configuration does (`__` stands for `:`; keys match case-insensitively).
 */
function applyEnvOverrides(json: Record<string, unknown>, env: NodeJS.ProcessEnv): void {
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined || !/^AzureFunctionsJobHost__/i.test(key)) continue;
    const parts = key.split('__').slice(1);
    let node: Record<string, unknown> = json;
    parts.forEach((part, i) => {
      const existing =
        Object.keys(node).find((k) => k.toLowerCase() === part.toLowerCase()) ?? part;
      if (i === parts.length - 1) node[existing] = value;
      else {
        const next = node[existing];
        if (typeof next !== 'object' || next === null) node[existing] = {};
        node = node[existing] as Record<string, unknown>;
      }
    });
  }
}

async function readJson(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new StartupError(`${file}: ${(e as Error).message}`);
  }
  try {
    // Strip a BOM, which editors on Windows like to add.
    return JSON.parse(text.replace(/^\uFEFF/, '')) as unknown;
  } catch (e) {
    throw new StartupError(`${file} is not valid JSON: ${(e as Error).message}`);
  }
}

/** Reads and validates `<root>/host.json`. A missing file gets the host's defaults. */
export async function loadHostJson(root: string, env: NodeJS.ProcessEnv): Promise<HostOptions> {
  const file = path.join(root, 'host.json');
  const json = (await readJson(file)) ?? { version: '2.0' };
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new StartupError(`${file} must hold a JSON object`);
  }
  applyEnvOverrides(json as Record<string, unknown>, env);
  const parsed = hostJsonSchema.safeParse(json);
  if (!parsed.success) throw new StartupError(formatIssues(file, parsed.error));
  const h = parsed.data;
  const timeout = h.functionTimeout ?? '00:30:00';
  return {
    raw: h,
    routePrefix: (h.extensions?.http?.routePrefix ?? 'api').replace(/^\/+|\/+$/g, ''),
    functionTimeoutMs: timeout === '-1' ? undefined : parseTimeSpan(timeout),
    functionTimeoutText: timeout,
    allowList: h.functions,
    logLevel: h.logging?.logLevel ?? {},
    customHeaders: h.extensions?.http?.customHeaders ?? {},
    maxConcurrentRequests: h.extensions?.http?.maxConcurrentRequests,
    durable: {
      hubName: h.extensions?.durableTask?.hubName,
      maxConcurrentActivityFunctions: h.extensions?.durableTask?.maxConcurrentActivityFunctions,
      maxConcurrentOrchestratorFunctions:
        h.extensions?.durableTask?.maxConcurrentOrchestratorFunctions,
    },
  };
}

const settingValue = z.union([z.string(), z.number(), z.boolean()]).transform((v) => String(v));
const localSettingsSchema = z.looseObject({
  IsEncrypted: z.boolean().optional(),
  Values: z.record(z.string(), settingValue).optional(),
  Host: z
    .looseObject({
      LocalHttpPort: z.coerce.number().int().min(0).max(65535).optional(),
      CORS: z.string().optional(),
    })
    .optional(),
  ConnectionStrings: z.record(z.string(), z.string()).optional(),
});

export interface LocalSettings {
  file: string | undefined;
  values: Record<string, string>;
  port: number | undefined;
  cors: string | undefined;
}

/** Reads `local.settings.json`, else `local.settings.example.json`, else nothing. */
export async function loadLocalSettings(root: string): Promise<LocalSettings> {
  for (const name of ['local.settings.json', 'local.settings.example.json']) {
    const file = path.join(root, name);
    const json = await readJson(file);
    if (json === undefined) continue;
    const parsed = localSettingsSchema.safeParse(json);
    if (!parsed.success) throw new StartupError(formatIssues(file, parsed.error));
    if (parsed.data.IsEncrypted) {
      throw new StartupError(
        `${file}: encrypted settings are not supported; set IsEncrypted to false`,
      );
    }
    return {
      file,
      values: parsed.data.Values ?? {},
      port: parsed.data.Host?.LocalHttpPort,
      cors: parsed.data.Host?.CORS,
    };
  }
  return { file: undefined, values: {}, port: undefined, cors: undefined };
}

/**
 * Fills environment variables from the settings' Values, only where the environment has no
 * non-empty value already (Core Tools: "Skipping '<key>' … already defined"). Returns the skipped keys.
 */
export function applySettings(values: Record<string, string>, env: NodeJS.ProcessEnv): string[] {
  const skipped: string[] = [];
  for (const [key, value] of Object.entries(values)) {
    if (env[key] !== undefined && env[key] !== '') skipped.push(key);
    else env[key] = value;
  }
  return skipped;
}

/** The local host's HTTP limits (the real host's body limit; Node's timeouts, tightened). */
export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  maxRequestBodySize: MAX_REQUEST_BODY,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 120_000,
};

/**
 * The HTTP limits from the environment (local.settings.json `Values` included):
 * `FUNCTIONS_REQUEST_BODY_SIZE_LIMIT` (bytes, the real host's setting), `DEVHOST_HEADERS_TIMEOUT` and
 * `DEVHOST_REQUEST_TIMEOUT` (seconds).
 */
export function httpLimits(env: NodeJS.ProcessEnv): HttpLimits {
  const read = (name: string, fallback: number, scale: number): number => {
    const text = env[name]?.trim();
    if (!text) return fallback;
    const n = Number(text);
    if (!/^\d+(\.\d+)?$/.test(text) || !(n > 0) || (scale === 1 && !Number.isInteger(n)))
      throw new StartupError(
        `${name} must be a positive ${scale === 1 ? 'whole number of bytes' : 'number of seconds'}, not "${text}"`,
      );
    return Math.round(n * scale);
  };
  const limits: HttpLimits = {
    maxRequestBodySize: read(
      'FUNCTIONS_REQUEST_BODY_SIZE_LIMIT',
      DEFAULT_HTTP_LIMITS.maxRequestBodySize,
      1,
    ),
    headersTimeoutMs: read('DEVHOST_HEADERS_TIMEOUT', DEFAULT_HTTP_LIMITS.headersTimeoutMs, 1000),
    requestTimeoutMs: read('DEVHOST_REQUEST_TIMEOUT', DEFAULT_HTTP_LIMITS.requestTimeoutMs, 1000),
  };
  if (limits.headersTimeoutMs > limits.requestTimeoutMs)
    throw new StartupError('DEVHOST_HEADERS_TIMEOUT must not exceed DEVHOST_REQUEST_TIMEOUT');
  return limits;
}
