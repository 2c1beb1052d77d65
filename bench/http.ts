// bench:http — GET /api/health through the local host vs a bare node:http server doing the same work.
// Prints requests/s, p50 and p99 for both; the last line is one JSON object.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { startAzurite } from '../devhost/azurite.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const DURATION_S = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = 50;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function waitUp(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited (${child.exitCode})`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not come up`);
}

/** The same work as the health trigger: a small JSON body with the same headers. */
const BARE_SERVER = `
const http = require('node:http');
const body = JSON.stringify({ status: 'ok' });
http.createServer((req, res) => {
  if (req.url === '/api/health' && req.method === 'GET') {
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'x-content-type-options': 'nosniff', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  } else { res.writeHead(404).end(); }
}).listen(Number(process.argv[1]));
`;

interface Figures {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

async function load(url: string): Promise<Figures> {
  // Warm up (JIT, connection pools) before measuring.
  await autocannon({ url, connections: CONNECTIONS, duration: 2 });
  const r = await autocannon({ url, connections: CONNECTIONS, duration: DURATION_S });
  return {
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: r.errors + r.non2xx,
  };
}

async function measure(name: string, child: ChildProcess, url: string): Promise<Figures> {
  try {
    await waitUp(url, child);
    const f = await load(url);
    console.log(
      `${name.padEnd(12)} ${f.rps.toFixed(0).padStart(8)} req/s   p50 ${f.p50} ms   p99 ${f.p99} ms   errors ${f.errors}`,
    );
    return f;
  } finally {
    child.kill('SIGTERM');
  }
}

async function main(): Promise<void> {
  console.log(
    `bench:http — ${CONNECTIONS} connections, ${DURATION_S} s each, node ${process.version}`,
  );
  // The app keeps Durable state, so its host needs storage even though /api/health touches none.
  const azurite = await startAzurite();
  const hostPort = await freePort();
  const host = spawn(
    process.execPath,
    [path.join(root, 'devhost/dist/cli.js'), '--script-root', root, '--port', String(hostPort)],
    {
      stdio: 'ignore',
      env: { ...process.env, AzureWebJobsStorage: azurite.connectionString },
    },
  );
  const hostFig = await measure(
    'local host',
    host,
    `http://127.0.0.1:${hostPort}/api/health`,
  ).finally(() => azurite.stop());
  const barePort = await freePort();
  const bare = spawn(process.execPath, ['-e', BARE_SERVER, String(barePort)], { stdio: 'ignore' });
  const bareFig = await measure('node:http', bare, `http://127.0.0.1:${barePort}/api/health`);
  const ratio = hostFig.rps / bareFig.rps;
  console.log(`ratio (host/bare) ${ratio.toFixed(2)}`);
  console.log(
    JSON.stringify({
      hostRps: Math.round(hostFig.rps),
      bareRps: Math.round(bareFig.rps),
      ratio: Number(ratio.toFixed(3)),
      hostP99Ms: hostFig.p99,
    }),
  );
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
