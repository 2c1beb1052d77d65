// The one reader of the environment: a zod-validated, typed view of the app's settings (conventions §7).
import { z } from 'zod';
import { isTimeZone, type ReminderSchedule } from './domain/reminders.js';

const url = z.url({ protocol: /^https?$/ });

/** The sandbox's mail access key (base64 of a fixed dev secret): only ever valid against the local sandbox. */
export const DEV_MAIL_KEY = Buffer.from('local-sandbox-mail-key-not-a-secret').toString('base64');

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
  MIGRATION_TIME_ZONE: z
    .string()
    .refine(isTimeZone, 'expected an IANA time zone such as "America/Los_Angeles"')
    .default('America/Los_Angeles'),
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
  /** NCRONTAB of the `deadlineReminders` timer (UTC on the host); each run waits for its day's slot. */
  REMINDER_SCHEDULE: z.string().min(1).default('0 0 8 * * *'),
  /** The local hour, in MIGRATION_TIME_ZONE, at which a reminder day's mail becomes due. */
  REMINDER_LOCAL_HOUR: z.coerce.number().int().min(0).max(23).default(8),
  /** Azure Communication Services: where mail leaves (locally the sandbox speaks the same REST contract). */
  ACS_CONNECTION_STRING: z
    .string()
    .regex(
      /endpoint=https?:\/\/[^;]+;accesskey=[^;]+/i,
      'expected "endpoint=https://…;accesskey=…"',
    )
    .default(`endpoint=http://localhost:7072/;accesskey=${DEV_MAIL_KEY}`),
  MAIL_SENDER: z.email().default('DoNotReply@migration.example.com'),
  /** The publisher portal, for the links in owner mail. */
  PORTAL_URL: url.default('http://localhost:7071'),
  /** NCRONTAB of the `outboxSender` timer that retries mail that could not leave. */
  OUTBOX_SCHEDULE: z.string().min(1).default('0 */1 * * * *'),
  /** How often back-sync looks for changes made in Partner Center. */
  BACKSYNC_INTERVAL_SECONDS: z.coerce.number().int().positive().default(300),
  /** R-D365-6: how often a submission in certification is looked at again (a durable timer) */
  D365_CERTIFICATION_CHECK_SECONDS: z.coerce.number().int().positive().default(3600),
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

/** The reminder schedule the configuration describes (R-DUE-1, R-DUE-2). */
export function reminderSchedule(cfg: Config): ReminderSchedule {
  return {
    deadline: cfg.MIGRATION_DEADLINE,
    timeZone: cfg.MIGRATION_TIME_ZONE,
    offsetsDays: cfg.REMINDER_OFFSETS_DAYS,
    localHour: cfg.REMINDER_LOCAL_HOUR,
  };
}

let cached: Config | undefined;

/** The process's configuration, read on first use. */
export function config(): Config {
  cached ??= loadConfig();
  return cached;
}
