// `node dist-dev/sandbox/cli.js [--world FILE] [--port N] [--host H] [--allow-remote-dev]`: the sandbox alone.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SANDBOX_MAIL_KEY } from './mail.js';
import { startSandbox, type RunningSandbox } from './server.js';
import { loadWorld, WorldError } from './world.js';

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DEFAULT_WORLD = path.join(projectRoot, 'sandbox', 'worlds', 'demo.json');

/** The app settings that point the app at a sandbox: partner services and the token issuer. */
export function appSettingsFor(sandboxUrl: string): Record<string, string> {
  return {
    ENTRA_DISCOVERY_URL: sandboxUrl,
    GRAPH_URL: sandboxUrl,
    PARTNER_CENTER_URL: sandboxUrl,
    CPP_URL: sandboxUrl,
    AUTH_ISSUER: `${sandboxUrl}/dev`,
    AUTH_JWKS_URL: `${sandboxUrl}/dev/jwks`,
    ACS_CONNECTION_STRING: `endpoint=${sandboxUrl}/;accesskey=${SANDBOX_MAIL_KEY}`,
    // The sandbox certifies in seconds (not days): look at a submission again every few seconds.
    D365_CERTIFICATION_CHECK_SECONDS: '2',
  };
}

/**
 * Starts the sandbox from the command line and the environment (SANDBOX_WORLD, SANDBOX_PORT,
 * SANDBOX_HOST, SANDBOX_ALLOW_REMOTE_DEV, AzureWebJobsStorage).
 */
export async function runSandbox(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<RunningSandbox> {
  const { values } = parseArgs({
    args: argv,
    options: {
      world: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      'allow-remote-dev': { type: 'boolean' },
    },
    strict: true,
  });
  const file = path.resolve(values.world ?? env.SANDBOX_WORLD ?? DEFAULT_WORLD);
  const port = Number(values.port ?? env.SANDBOX_PORT ?? 7072);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new WorldError(`--port must be a number from 0 to 65535`);
  const storage = env.AzureWebJobsStorage;
  if (!storage)
    throw new WorldError(
      'AzureWebJobsStorage is not set: the sandbox keeps its world in Table storage.',
    );
  const host = values.host ?? (env.SANDBOX_HOST || undefined);
  const allowRemoteDev =
    values['allow-remote-dev'] ?? /^(true|1)$/i.test(env.SANDBOX_ALLOW_REMOTE_DEV ?? '');
  const certificationSeconds = Number(env.SANDBOX_CERTIFICATION_SECONDS ?? 2);
  if (!Number.isFinite(certificationSeconds) || certificationSeconds < 0)
    throw new WorldError('SANDBOX_CERTIFICATION_SECONDS must be a number of seconds (0 or more).');
  const world = await loadWorld(file);
  try {
    return await startSandbox({
      world,
      port,
      storage,
      ...(host ? { host } : {}),
      allowRemoteDev,
      certificationSeconds,
      log: (l) => process.stdout.write(`${l}\n`),
    });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE')
      throw new WorldError(`Port ${port} is unavailable: set SANDBOX_PORT or --port.`);
    throw e;
  }
}

if (process.argv[1]?.endsWith(path.join('sandbox', 'cli.js'))) {
  runSandbox(process.argv.slice(2)).then(
    (s) => {
      process.stdout.write(`Sandbox listening on ${s.url}\n`);
      const stop = (): void => void s.close().then(() => process.exit(0));
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    },
    (e: unknown) => {
      process.stderr.write(`sandbox: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    },
  );
}
