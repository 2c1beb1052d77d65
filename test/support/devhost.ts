// Runs the compiled local host as a child process on a free port, for integration tests.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const fixture = (name: string): string => path.join(projectRoot, 'test', 'fixtures', name);
const cli = path.join(projectRoot, 'devhost', 'dist', 'cli.js');

export interface DevhostProcess {
  url: string;
  port: number;
  child: ChildProcess;
  /** everything printed so far (stdout and stderr) */
  output(): string;
  /** resolves when a line matching `re` has been printed */
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface SpawnOptions {
  args?: string[];
  env?: Record<string, string | undefined>;
  cwd?: string;
}

/** Starts `node devhost/dist/cli.js --script-root <root> --port 0 ...` and waits for "Host started". */
export async function spawnDevhost(
  scriptRoot: string,
  opts: SpawnOptions = {},
): Promise<DevhostProcess> {
  const run = runDevhost(scriptRoot, opts);
  const line = await run
    .waitFor(/Host started on http:\/\/localhost:(\d+)/, 20_000)
    .catch(async (e: unknown) => {
      await run.stop('SIGKILL');
      throw new Error(`${(e as Error).message}\n--- devhost output ---\n${run.output()}`);
    });
  const port = Number(/localhost:(\d+)/.exec(line)![1]);
  return { ...run, port, url: `http://localhost:${port}` };
}

/** Starts the CLI without waiting for it; for start-up failures and exit codes. */
export function runDevhost(
  scriptRoot: string,
  opts: SpawnOptions = {},
): Omit<DevhostProcess, 'url' | 'port'> & { exited: Promise<number | null> } {
  const args = [cli, '--script-root', scriptRoot, ...(opts.args ?? ['--port', '0'])];
  const env: NodeJS.ProcessEnv = { ...process.env, ...opts.env };
  for (const [k, v] of Object.entries(opts.env ?? {})) if (v === undefined) delete env[k];
  const child = spawn(process.execPath, args, {
    cwd: opts.cwd ?? projectRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  const onData = (d: Buffer): void => {
    out += d.toString();
    for (const w of [...waiters]) {
      const m = w.re.exec(out);
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m[0]);
      }
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  return {
    child,
    exited,
    output: () => out,
    waitFor(re, timeoutMs = 10_000) {
      const m = re.exec(out);
      if (m) return Promise.resolve(m[0]);
      return new Promise((resolve, reject) => {
        const w = { re, resolve };
        waiters.push(w);
        const t = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error(`timed out waiting for ${re} in devhost output`));
        }, timeoutMs);
        void exited.then(() => {
          clearTimeout(t);
          setTimeout(() => reject(new Error(`devhost exited before printing ${re}`)), 50);
        });
      });
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      return exited;
    },
  };
}
