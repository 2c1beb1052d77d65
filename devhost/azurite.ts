// Runs Azurite (from node_modules) as a child process: persisted for `npm start`, in memory for tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { createServer, connect } from 'node:net';
import path from 'node:path';

const ACCOUNT = 'devstoreaccount1';
/** Azurite's well-known development key (public, documented; not a secret). */
const KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface AzuriteOptions {
  /** folder to persist in; undefined = in memory */
  location?: string;
  /** try Azurite's usual ports (10000–10002) first; else free ones */
  preferDefaultPorts?: boolean;
  host?: string;
}

export interface RunningAzurite {
  blobPort: number;
  queuePort: number;
  tablePort: number;
  connectionString: string;
  stop(): Promise<void>;
}

async function portFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
}

async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function waitForPort(
  port: number,
  host: string,
  child: ChildProcess,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`Azurite exited with code ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const sock = connect(port, host, () => {
        sock.destroy();
        resolve(true);
      });
      sock.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`Azurite did not listen on ${host}:${port} within ${timeoutMs} ms`);
}

export function connectionStringFor(
  host: string,
  ports: { blob: number; queue: number; table: number },
): string {
  return (
    `DefaultEndpointsProtocol=http;AccountName=${ACCOUNT};AccountKey=${KEY};` +
    `BlobEndpoint=http://${host}:${ports.blob}/${ACCOUNT};` +
    `QueueEndpoint=http://${host}:${ports.queue}/${ACCOUNT};` +
    `TableEndpoint=http://${host}:${ports.table}/${ACCOUNT};`
  );
}

/** Starts Azurite (blob, queue, table) and resolves once every service listens. */
export async function startAzurite(opts: AzuriteOptions = {}): Promise<RunningAzurite> {
  const host = opts.host ?? '127.0.0.1';
  const defaults = { blob: 10000, queue: 10001, table: 10002 };
  let ports = defaults;
  const defaultsFree =
    opts.preferDefaultPorts &&
    (await portFree(10000, host)) &&
    (await portFree(10001, host)) &&
    (await portFree(10002, host));
  if (!defaultsFree) {
    ports = {
      blob: await freePort(host),
      queue: await freePort(host),
      table: await freePort(host),
    };
  }
  const require = createRequire(import.meta.url);
  const bin = path.join(
    path.dirname(require.resolve('azurite/package.json')),
    'dist',
    'src',
    'azurite.js',
  );
  const args = [
    bin,
    '--disableTelemetry',
    '--skipApiVersionCheck',
    '--loose',
    '--silent',
    // Azurite closes a connection idle for 5 s by default. Under load its event loop lags by more than
    // that, so it closes connections whose next request already arrived: the client sees thousands of
    // "socket hang up" errors and retries each after a backoff, halving throughput (bench:durable).
    ...['blob', 'queue', 'table'].flatMap((s) => [`--${s}KeepAliveTimeout`, '120']),
    '--blobHost',
    host,
    '--blobPort',
    String(ports.blob),
    '--queueHost',
    host,
    '--queuePort',
    String(ports.queue),
    '--tableHost',
    host,
    '--tablePort',
    String(ports.table),
    ...(opts.location ? ['--location', opts.location] : ['--inMemoryPersistence']),
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  try {
    await Promise.all([
      waitForPort(ports.table, host, child, 30_000),
      waitForPort(ports.queue, host, child, 30_000),
      waitForPort(ports.blob, host, child, 30_000),
    ]);
  } catch (e) {
    child.kill('SIGKILL');
    throw new Error(`${(e as Error).message}${stderr ? `: ${stderr.trim()}` : ''}`, { cause: e });
  }
  return {
    blobPort: ports.blob,
    queuePort: ports.queue,
    tablePort: ports.table,
    connectionString: connectionStringFor(host, ports),
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }),
  };
}
