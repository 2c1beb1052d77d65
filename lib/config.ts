// The one reader of the environment: a zod-validated, typed view of the app's settings (conventions §7).
import { z } from 'zod';

const url = z.url({ protocol: /^https?$/ });

const configSchema = z.object({
  AzureWebJobsStorage: z.string().min(1).default('UseDevelopmentStorage=true'),
  /** Prefix of the app's own tables (Migrations, Outbox), so that several deployments can share storage. */
  TABLE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9]{0,20}$/, 'letters and digits only')
    .default(''),
  /** The tenant/issuer the portal's tokens come from, and the audience they are minted for. */
  AUTH_ISSUER: z.string().min(1).default('http://localhost:7072/dev'),
  AUTH_AUDIENCE: z.string().min(1).default('api://cpp-migration'),
  AUTH_JWKS_URL: url.default('http://localhost:7072/dev/jwks'),
  /**
   * The app's public base URL (scheme, host, port): `Location` headers are built from it, never from the
   * request's `Host` header, which a caller controls.
   */
  PUBLIC_BASE_URL: url.default('http://localhost:7071').transform((u) => u.replace(/\/+$/, '')),
  /** Base URLs of the partner services; locally all four are the sandbox. */
  ENTRA_DISCOVERY_URL: url.default('http://localhost:7072'),
  GRAPH_URL: url.default('http://localhost:7072'),
  PARTNER_CENTER_URL: url.default('http://localhost:7072'),
  CPP_URL: url.default('http://localhost:7072'),
  /** R-DUE-1: the deadline and the zone it is meant in. */
  MIGRATION_DEADLINE: z.iso.datetime({ offset: true }).default('2019-10-15T23:59:59-07:00'),
  MIGRATION_TIME_ZONE: z.string().min(1).default('America/Los_Angeles'),
  /** R-COPY-4: back-sync runs until this date. */
  CPP_RETIREMENT_DATE: z.iso.datetime({ offset: true }).default('2020-06-30T23:59:59-07:00'),
  /** R-DUE-2: days before the deadline on which reminders go out. */
  REMINDER_OFFSETS_DAYS: z
    .string()
    .default('30,14,7,3,1')
    .transform((s, ctx) => {
      const days = s.split(',').map((d) => Number(d.trim()));
      if (days.some((d) => !Number.isInteger(d) || d < 0)) {
        ctx.addIssue({
          code: 'custom',
          message: 'expected comma-separated whole days, e.g. "30,14,7,3,1"',
        });
        return z.NEVER;
      }
      return [...new Set(days)].sort((a, b) => b - a);
    }),
  REMINDER_SCHEDULE: z.string().min(1).default('0 0 8 * * *'),
  /** How often back-sync looks for changes made in Partner Center. */
  BACKSYNC_INTERVAL_SECONDS: z.coerce.number().int().positive().default(300),
});

export type Config = z.infer<typeof configSchema>;

export class ConfigError extends Error {}

/** Validates the environment once; a bad setting names itself and what was expected. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const input = Object.fromEntries(
    Object.entries(env).filter(([, v]) => v !== undefined && v !== ''),
  );
  const parsed = configSchema.safeParse(input);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`Invalid configuration: ${lines.join('; ')}`);
  }
  return parsed.data;
}

let cached: Config | undefined;

/** The process's configuration, read on first use. */
export function config(): Config {
  cached ??= loadConfig();
  return cached;
}
