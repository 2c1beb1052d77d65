// End-to-end harness: the sandbox over HTTP, the app on the local host (a child process), one Azurite.
import { inject } from 'vitest';
import { appSettingsFor } from '../../sandbox/cli.js';
import { startSandbox, type RunningSandbox } from '../../sandbox/server.js';
import { loadWorld, type World } from '../../sandbox/world.js';
import { projectRoot, spawnDevhost, type DevhostProcess } from './devhost.js';

export interface E2E {
  /** replaceable: restartSandbox stops it and starts another on the same port, world and table */
  sandbox: RunningSandbox;
  restartSandbox(): Promise<void>;
  /** replaceable: crash tests kill it and start another on the same storage */
  app: DevhostProcess & { env: Record<string, string> };
  token(email: string, extra?: Record<string, unknown>): Promise<string>;
  call(
    method: string,
    path: string,
    opts?: { token?: string; body?: unknown; raw?: string },
  ): Promise<{ status: number; body: any; headers: Headers }>;
  waitForStatus(
    accountId: string,
    token: string,
    ok: (s: any) => boolean,
    timeoutMs?: number,
  ): Promise<any>;
  close(): Promise<void>;
}

/** A fresh world (own tables) and a fresh app (own task hub and tables) per test file. */
export async function startE2E(
  name: string,
  extraEnv: Record<string, string> = {},
  hostArgs: string[] = [],
  sandboxOpts: { world?: (w: World) => World; certificationSeconds?: number } = {},
): Promise<E2E> {
  const storage = inject('storage');
  const demo = await loadWorld(`${projectRoot}/sandbox/worlds/demo.json`);
  const world = sandboxOpts.world ? sandboxOpts.world(demo) : demo;
  const suffix = `${name}${Date.now().toString(36)}`.replace(/[^A-Za-z0-9]/g, '');
  const sandboxOptions = {
    world,
    storage,
    table: `Sandbox${suffix}`,
    ...(sandboxOpts.certificationSeconds !== undefined
      ? { certificationSeconds: sandboxOpts.certificationSeconds }
      : {}),
  };
  const sandbox = await startSandbox({ ...sandboxOptions, port: 0 });
  const env: Record<string, string> = {
    AzureWebJobsStorage: storage,
    AzureFunctionsJobHost__extensions__durableTask__hubName: `Hub${suffix}`.slice(0, 40),
    TABLE_PREFIX: `T${suffix}`.slice(0, 20),
    // Timer schedule statuses are kept per host id: each test's app is its own host.
    AzureFunctionsWebHost__hostid: `h${suffix}`.slice(0, 32),
    ...appSettingsFor(sandbox.url),
    BACKSYNC_INTERVAL_SECONDS: '1',
    // No reminder sweep or outbox run unless a test asks for one (they would add partner calls).
    REMINDER_SCHEDULE: '0 0 0 1 1 *',
    OUTBOX_SCHEDULE: '0 0 0 1 1 *',
    CPP_RETIREMENT_DATE: '2099-12-31T23:59:59Z',
    ...extraEnv,
  };
  const app = Object.assign(
    await spawnDevhost(projectRoot, { env, args: ['--port', '0', ...hostArgs] }),
    { env },
  );
  const e2e: E2E = {
    sandbox,
    async restartSandbox() {
      const port = e2e.sandbox.port;
      await e2e.sandbox.close();
      e2e.sandbox = await startSandbox({ ...sandboxOptions, port });
    },
    app,
    async token(email, extra = {}) {
      const res = await fetch(`${e2e.sandbox.url}/dev/token`, {
        method: 'POST',
        body: JSON.stringify({ email, ...extra }),
      });
      return ((await res.json()) as { access_token: string }).access_token;
    },
    async call(method, path, opts = {}) {
      const res = await fetch(`${e2e.app.url}${path}`, {
        method,
        headers: {
          ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
          'content-type': 'application/json',
        },
        ...(opts.raw !== undefined
          ? { body: opts.raw }
          : opts.body !== undefined
            ? { body: JSON.stringify(opts.body) }
            : {}),
      });
      const text = await res.text();
      return {
        status: res.status,
        body: text ? (JSON.parse(text) as unknown) : undefined,
        headers: res.headers,
      };
    },
    async waitForStatus(accountId, token, ok, timeoutMs = 20_000) {
      const end = Date.now() + timeoutMs;
      let last: unknown;
      while (Date.now() < end) {
        const r = await e2e.call('GET', `/api/accounts/${accountId}/migration`, { token });
        last = r.body;
        if (r.status === 200 && ok(r.body)) return r.body;
        await new Promise((res) => setTimeout(res, 100));
      }
      throw new Error(`status of ${accountId} never matched; last: ${JSON.stringify(last)}`);
    },
    async close() {
      await e2e.app.stop();
      await e2e.sandbox.close();
    },
  };
  return e2e;
}

/** Polls `probe` every 100 ms until it answers something, or fails naming `what` after `ms`. */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  ms = 30_000,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
