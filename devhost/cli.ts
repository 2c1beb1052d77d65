// `npm run devhost -- --script-root DIR --port N [--host H] [--virtual-clock[=ISO]] [--enable-auth]`
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { durableExtension } from './durable/index.js';
import { queuesExtension } from './queues/index.js';
import { parseArgs } from 'node:util';
import { startHost, type HostStartOptions, type RunningHost } from './host.js';
import { StartupError } from './errors.js';

const USAGE =
  'usage: devhost [--script-root DIR] [--port N] [--host ADDRESS] [--virtual-clock[=ISO-DATE]] [--enable-auth]';

export interface CliOptions {
  scriptRoot: string;
  port: number | undefined;
  /** --host (alias --hostname): where to listen; default localhost (127.0.0.1 and ::1) */
  hostname: string | undefined;
  virtualClock: boolean | Date;
  enableAuth: boolean;
}

/** Parses the command line; throws StartupError with a one-line message on bad input. */
export function parseCli(argv: string[], cwd = process.cwd()): CliOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        'script-root': { type: 'string' },
        port: { type: 'string', short: 'p' },
        host: { type: 'string' },
        hostname: { type: 'string' },
        'virtual-clock': { type: 'string' },
        'enable-auth': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    throw new StartupError(`${(e as Error).message}\n${USAGE}`);
  }
  if (values.help) throw new StartupError(USAGE);
  let port: number | undefined;
  if (values.port !== undefined) {
    port = Number(values.port);
    if (!/^\d+$/.test(values.port) || port > 65535)
      throw new StartupError(`--port must be a number from 0 to 65535, not "${values.port}"`);
  }
  let virtualClock: boolean | Date = false;
  const vc = values['virtual-clock'];
  if (vc !== undefined) {
    if (vc === '' || vc === 'true') virtualClock = true;
    else {
      const d = new Date(vc);
      if (Number.isNaN(d.getTime()))
        throw new StartupError(`--virtual-clock takes an ISO date, not "${vc}"`);
      virtualClock = d;
    }
  }
  return {
    scriptRoot: path.resolve(cwd, values['script-root'] ?? '.'),
    port,
    hostname: values.host ?? values.hostname,
    virtualClock,
    enableAuth: values['enable-auth'] ?? false,
  };
}

/** `--virtual-clock` alone is a flag; parseArgs wants a value, so give it an empty one. */
function normalise(argv: string[]): string[] {
  return argv.flatMap((a, i) =>
    a === '--virtual-clock' && (argv[i + 1] === undefined || argv[i + 1]!.startsWith('-'))
      ? ['--virtual-clock=']
      : [a],
  );
}

/** What the command line asks of the host, with the extensions the CLI runs (Durable, storage queues). */
export function hostOptions(opts: CliOptions): HostStartOptions {
  return {
    scriptRoot: opts.scriptRoot,
    ...(opts.port !== undefined ? { port: opts.port } : {}),
    ...(opts.hostname ? { hostname: opts.hostname } : {}),
    virtualClock: opts.virtualClock,
    enableAuth: opts.enableAuth,
    extensions: [durableExtension, queuesExtension],
  };
}

export async function main(argv: string[]): Promise<RunningHost> {
  return startHost(hostOptions(parseCli(normalise(argv))));
}

/** Prints a startup failure as one line (no stack) and exits non-zero. */
export function fail(e: unknown): never {
  const message =
    e instanceof StartupError ? e.message : e instanceof Error ? e.message : String(e);
  process.stderr.write(`devhost: ${message}\n`);
  process.exit(1);
}

/** Stops the host on Ctrl-C / SIGTERM, running appTerminate hooks first. */
export function closeOnSignals(close: () => Promise<void>): void {
  let stopping = false;
  const stop = (): void => {
    if (stopping) process.exit(130);
    stopping = true;
    close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

/** True when this file is the program: `node …/cli.js`, or the `devhost` bin (a link to it). */
function isMain(): boolean {
  const argv1 = process.argv[1];
  if (!argv1) return false;
  try {
    return realpathSync(argv1) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isMain()) {
  main(process.argv.slice(2)).then((host) => closeOnSignals(() => host.close()), fail);
}
