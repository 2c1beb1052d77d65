// The local host and the sandbox against a hostile caller: where they listen, which keys open the
// Durable and admin routes, body limits, slow clients and malformed Host headers.
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startSandbox } from '../sandbox/server.js';
import { loadWorld } from '../sandbox/world.js';
import {
  fixture,
  projectRoot,
  runDevhost,
  spawnDevhost,
  type DevhostProcess,
} from './support/devhost.js';

/** An address of this machine that other machines can reach (none in some containers). */
const external = Object.values(networkInterfaces())
  .flat()
  .find((a) => a && !a.internal && a.family === 'IPv4')?.address;

/** Whether a TCP connection to host:port is accepted. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

interface RawReply {
  /** everything the server sent */
  text: string;
  /** the status code of the first response line, if any */
  status: number | undefined;
  /** true when the server closed the connection */
  closed: boolean;
}

/**
 * Writes `head` (and then `body`, if given) on a fresh connection and never sends anything else.
 * Resolves once the server has sent a complete status line (`until: 'status'`) or closed the connection.
 */
function rawRequest(
  port: number,
  head: string,
  opts: { body?: Buffer; until?: 'status' | 'close' } = {},
): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port });
    let text = '';
    const status = (): number | undefined => {
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      return m ? Number(m[1]) : undefined;
    };
    s.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      if (opts.until === 'status' && status() !== undefined && text.includes('\r\n\r\n')) {
        s.destroy();
        resolve({ text, status: status(), closed: false });
      }
    });
    s.once('close', () => resolve({ text, status: status(), closed: true }));
    s.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ECONNRESET' || e.code === 'EPIPE') return;
      reject(e);
    });
    s.write(head);
    if (opts.body) s.write(opts.body);
  });
}

describe('where the host listens', () => {
  let host: DevhostProcess;
  beforeAll(async () => {
    host = await spawnDevhost(fixture('http-app'));
  });
  afterAll(async () => {
    await host?.stop();
  });

  it('answers on localhost, 127.0.0.1 and ::1, and prints localhost URLs', async () => {
    expect(host.url).toMatch(/^http:\/\/localhost:\d+$/);
    for (const origin of [host.url, `http://127.0.0.1:${host.port}`, `http://[::1]:${host.port}`])
      expect((await fetch(`${origin}/api/only-get`)).status).toBe(200);
  });

  it.skipIf(!external)('is not reachable from other machines by default', async () => {
    expect(await accepts(external!, host.port)).toBe(false);
  });

  it.skipIf(!external)('listens on every interface with --host 0.0.0.0, and warns', async () => {
    const wide = await spawnDevhost(fixture('http-app'), {
      args: ['--port', '0', '--host', '0.0.0.0'],
    });
    try {
      expect((await fetch(`http://${external}:${wide.port}/api/only-get`)).status).toBe(200);
      expect(wide.output()).toMatch(/other machines can reach this host/);
      expect(wide.url).toMatch(/^http:\/\/localhost:/);
    } finally {
      await wide.stop();
    }
  });
});

describe('the Durable HTTP API', () => {
  const keys = {
    DEVHOST_MASTER_KEY: 'master-key-for-tests',
    DEVHOST_FUNCTION_KEY: 'function-key-for-tests',
    DEVHOST_DURABLETASK_EXTENSION_KEY: 'durable-system-key-for-tests',
  };
  let open: DevhostProcess;
  let secured: DevhostProcess;
  beforeAll(async () => {
    const storage = inject('storage');
    [open, secured] = await Promise.all([
      spawnDevhost(fixture('durable-conformance'), {
        env: {
          AzureWebJobsStorage: storage,
          AzureFunctionsJobHost__extensions__durableTask__hubName: 'SecOpen',
        },
      }),
      spawnDevhost(fixture('durable-conformance'), {
        args: ['--port', '0', '--enable-auth'],
        env: {
          AzureWebJobsStorage: storage,
          AzureFunctionsJobHost__extensions__durableTask__hubName: 'SecKeyed',
          ...keys,
        },
      }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([open?.stop(), secured?.stop()]);
  });

  it('does not serve the internal /durabletask/ routes on the public port', async () => {
    const res = await fetch(`${open.url}/durabletask/orchestrators/chain/sneaky`, {
      method: 'POST',
    });
    expect(res.status).toBe(404);
    const status = await fetch(`${open.url}/runtime/webhooks/durabletask/instances/sneaky`);
    expect(status.status).toBe(404);
    // The app's own client still reaches the engine (through the internal listener).
    const started = await fetch(`${open.url}/api/start/chain/through-client`, { method: 'POST' });
    expect(started.status).toBe(202);
  });

  it('without keys, refuses the Durable and admin routes to other web pages and rebound names', async () => {
    const terminate = `${open.url}/runtime/webhooks/durabletask/instances/web-victim/terminate`;
    await fetch(`${open.url}/api/start/approval/web-victim`, { method: 'POST' });
    // A form or fetch POST from another site carries its Origin.
    const fromPage = await fetch(terminate, {
      method: 'POST',
      headers: { origin: 'http://evil.example', 'content-type': 'text/plain' },
    });
    expect(fromPage.status).toBe(403);
    const clock = await fetch(`${open.url}/admin/devhost/clock`, {
      method: 'POST',
      headers: { origin: 'http://evil.example' },
      body: '{"advanceBy":"P1D"}',
    });
    expect(clock.status).toBe(403);
    // DNS rebinding: the browser sends the attacker's name as Host.
    const rebound = await rawRequest(
      open.port,
      `GET /runtime/webhooks/durabletask/instances/web-victim HTTP/1.1\r\nHost: evil.example:${open.port}\r\nConnection: close\r\n\r\n`,
    );
    expect(rebound.status).toBe(403);
    const status = await fetch(`${open.url}/runtime/webhooks/durabletask/instances/web-victim`);
    expect(((await status.json()) as { runtimeStatus: string }).runtimeStatus).not.toBe(
      'Terminated',
    );
    // Tools (no Origin) and the app's own routes are unaffected.
    expect((await fetch(terminate, { method: 'POST' })).status).toBe(202);
    const app = await rawRequest(
      open.port,
      `POST /api/start/chain/rebound-app HTTP/1.1\r\nHost: evil.example\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
    );
    expect(app.status).toBe(202);
  });

  it('with --enable-auth, opens every Durable route only to the system key or the master key', async () => {
    const at = (path: string, key?: string, init?: RequestInit): Promise<Response> =>
      fetch(`${secured.url}/runtime/webhooks/durabletask/${path}`, {
        ...init,
        headers: key ? { 'x-functions-key': key } : {},
      });
    const routes: [string, RequestInit][] = [
      ['instances/none', {}],
      ['instances/', {}],
      ['instances/none/terminate', { method: 'POST' }],
      ['instances/none/raiseEvent/Go', { method: 'POST' }],
      ['instances/none', { method: 'DELETE' }],
      ['orchestrators/chain/forged', { method: 'POST' }],
      ['entities/counter/k', {}],
    ];
    for (const [path, init] of routes) {
      expect((await at(path, undefined, init)).status, path).toBe(401);
      expect((await at(path, keys.DEVHOST_FUNCTION_KEY, init)).status, path).toBe(401);
    }
    // Nothing was started by the refused requests.
    expect((await at('instances/forged', keys.DEVHOST_MASTER_KEY)).status).toBe(404);
    expect((await at('instances/none', keys.DEVHOST_DURABLETASK_EXTENSION_KEY)).status).toBe(404);
    expect(
      (
        await fetch(
          `${secured.url}/runtime/webhooks/durabletask/instances/?code=${keys.DEVHOST_DURABLETASK_EXTENSION_KEY}`,
        )
      ).status,
    ).toBe(200);
  });

  it('with --enable-auth, keeps admin routes to the master key', async () => {
    const clock = (key?: string): Promise<Response> =>
      fetch(
        `${secured.url}/admin/devhost/clock`,
        key ? { headers: { 'x-functions-key': key } } : {},
      );
    expect((await clock()).status).toBe(401);
    expect((await clock(keys.DEVHOST_DURABLETASK_EXTENSION_KEY)).status).toBe(401);
    expect((await clock(keys.DEVHOST_FUNCTION_KEY)).status).toBe(401);
    expect((await clock(keys.DEVHOST_MASTER_KEY)).status).toBe(200);
  });

  it('with --enable-auth, gives the app check-status links that work as given, with the system key', async () => {
    const res = await fetch(`${secured.url}/api/start/chain/keyed-links`, { method: 'POST' });
    expect(res.status).toBe(202);
    const body = (await res.json()) as Record<string, string>;
    const text = JSON.stringify(body);
    expect(text).not.toContain(keys.DEVHOST_MASTER_KEY);
    expect(body.statusQueryGetUri).toContain(`code=${keys.DEVHOST_DURABLETASK_EXTENSION_KEY}`);
    expect([200, 202]).toContain((await fetch(body.statusQueryGetUri!)).status);
    const purge = await fetch(body.purgeHistoryDeleteUri!, { method: 'DELETE' });
    expect([200, 404]).toContain(purge.status);
  });
});

describe('request bodies', () => {
  const LIMIT = 1024 * 1024;
  let host: DevhostProcess;
  beforeAll(async () => {
    host = await spawnDevhost(fixture('http-app'), {
      env: { FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: String(LIMIT) },
    });
  });
  afterAll(async () => {
    await host?.stop();
  });
  const invoked = (): boolean => host.output().includes("Executing 'Functions.bodies'");

  it('refuses a body declared larger than the limit at once, without waiting for it', async () => {
    // 95 MB announced, 1 KB sent: the host answers without reading (or waiting for) the rest.
    const reply = await rawRequest(
      host.port,
      `POST /api/bodies/text HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${95 * 1024 * 1024}\r\n\r\n`,
      { body: Buffer.alloc(1024, 97) },
    );
    expect(reply.status).toBe(413);
    expect(reply.text).toMatch(/connection: close/i);
    expect(reply.closed).toBe(true);
    expect(invoked()).toBe(false);
  });

  it('refuses a chunked body once it passes the limit, before it ends', async () => {
    const chunk = Buffer.alloc(2 * LIMIT, 97);
    const reply = await rawRequest(
      host.port,
      'POST /api/bodies/text HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n',
      {
        // One chunk over the limit, and no terminating chunk: the request never ends.
        body: Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk]),
        until: 'status',
      },
    );
    expect(reply.status).toBe(413);
    expect(invoked()).toBe(false);
  });

  it('passes a small body that arrives together with its headers', async () => {
    const reply = await rawRequest(
      host.port,
      'POST /api/bodies/text HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello',
    );
    expect(reply.status).toBe(200);
    expect(reply.text).toMatch(/\r\n\r\nHELLO$/);
  });

  it('still passes a body within the limit to the app', async () => {
    const res = await fetch(`${host.url}/api/bodies/text`, {
      method: 'POST',
      body: 'x'.repeat(LIMIT),
    });
    expect(res.status).toBe(200);
    expect((await res.text()).length).toBe(LIMIT);
  });

  it('keeps a 95 MB unauthenticated body away from this project app', async () => {
    const app = await spawnDevhost(projectRoot, {
      env: {
        AzureWebJobsStorage: inject('storage'),
        TABLE_PREFIX: 'BodyLimit',
        AzureFunctionsJobHost__extensions__durableTask__hubName: 'HubBodyLimit',
      },
    });
    try {
      const res = await fetch(`${app.url}/api/accounts/cpp-contoso/migration`, {
        method: 'POST',
        body: Buffer.alloc(95 * 1024 * 1024, 32),
        headers: { 'content-type': 'application/json' },
      });
      expect(res.status).toBe(413);
      expect(app.output()).not.toMatch(/Executing 'Functions\./);
    } finally {
      await app.stop();
    }
  });

  it('refuses a limit that is not a number of bytes at start-up', async () => {
    const run = runDevhost(fixture('http-app'), {
      env: { FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: '10MB' },
    });
    expect(await run.exited).toBe(1);
    expect(run.output()).toMatch(
      /FUNCTIONS_REQUEST_BODY_SIZE_LIMIT must be a positive whole number/,
    );
  });
});

describe('slow and half-open connections', () => {
  let host: DevhostProcess;
  beforeAll(async () => {
    host = await spawnDevhost(fixture('http-app'), {
      env: { DEVHOST_HEADERS_TIMEOUT: '1', DEVHOST_REQUEST_TIMEOUT: '2' },
    });
  });
  afterAll(async () => {
    await host?.stop();
  });

  it('closes a connection whose headers do not arrive in time', async () => {
    const reply = await rawRequest(host.port, 'GET /api/only-get HTTP/1.1\r\nHost: localh');
    expect(reply.closed).toBe(true);
    expect(reply.status).toBe(408);
  }, 8_000);

  it('closes a connection whose body stops arriving', async () => {
    const reply = await rawRequest(
      host.port,
      'POST /api/bodies/text HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n',
      { body: Buffer.from('only ten b') },
    );
    expect(reply.closed).toBe(true);
    expect(reply.text).not.toMatch(/^HTTP\/1\.1 200/);
  }, 8_000);
});

describe('the Host header', () => {
  let host: DevhostProcess;
  beforeAll(async () => {
    host = await spawnDevhost(fixture('http-app'));
  });
  afterAll(async () => {
    await host?.stop();
  });

  it.each([
    ['a space', 'bad host'],
    ['a path', 'evil.example/x'],
    ['user info', 'user@evil.example'],
    ['a port out of range', 'localhost:99999'],
    ['an unclosed IPv6 literal', '[::1'],
    ['a quote', 'evil"example'],
  ])('is 400 when it holds %s, and the app never runs', async (_what, value) => {
    const reply = await rawRequest(
      host.port,
      `GET /api/echo/1 HTTP/1.1\r\nHost: ${value}\r\nConnection: close\r\n\r\n`,
    );
    expect(reply.status).toBe(400);
    expect(host.output()).not.toContain("Executing 'Functions.echo'");
  });

  it('is 400 for an absolute-form target naming another host', async () => {
    const reply = await rawRequest(
      host.port,
      'GET http://evil.example/api/echo/1 HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n',
    );
    expect(reply.status).toBe(400);
  });

  it('accepts names, addresses and ports', async () => {
    for (const value of [
      'localhost',
      `127.0.0.1:${host.port}`,
      `[::1]:${host.port}`,
      'my_box.lan',
    ]) {
      const reply = await rawRequest(
        host.port,
        `GET /api/only-get HTTP/1.1\r\nHost: ${value}\r\nConnection: close\r\n\r\n`,
      );
      expect(reply.status, value).toBe(200);
    }
  });
});

describe('the sandbox', () => {
  const start = async (opts: { host?: string; allowRemoteDev?: boolean } = {}) => {
    const lines: string[] = [];
    const world = await loadWorld(`${projectRoot}/sandbox/worlds/demo.json`);
    const sandbox = await startSandbox({
      world,
      port: 0,
      storage: inject('storage'),
      table: `SandboxSec${Date.now().toString(36)}`,
      log: (l) => lines.push(l),
      ...opts,
    });
    return { sandbox, lines };
  };
  const token = (origin: string): Promise<Response> =>
    fetch(`${origin}/dev/token`, {
      method: 'POST',
      body: JSON.stringify({ email: 'olivia.owner@contoso.com' }),
    });

  it('listens on loopback by default and says /dev/token is a local-only door', async () => {
    const { sandbox, lines } = await start();
    try {
      expect((await token(sandbox.url)).status).toBe(200);
      expect((await token(`http://127.0.0.1:${sandbox.port}`)).status).toBe(200);
      expect((await token(`http://[::1]:${sandbox.port}`)).status).toBe(200);
      if (external) expect(await accepts(external, sandbox.port)).toBe(false);
      expect(lines.join('\n')).toMatch(/\/dev\/token .*local development only/);
    } finally {
      await sandbox.close();
    }
  });

  it.skipIf(!external)(
    'widened, refuses /dev/token to other machines unless allowed, but serves its public keys',
    async () => {
      const { sandbox } = await start({ host: '0.0.0.0' });
      try {
        const remote = `http://${external}:${sandbox.port}`;
        expect((await token(remote)).status).toBe(403);
        expect((await fetch(`${remote}/dev/jwks`)).status).toBe(200);
        expect((await token(sandbox.url)).status).toBe(200);
      } finally {
        await sandbox.close();
      }
      const allowed = await start({ host: '0.0.0.0', allowRemoteDev: true });
      try {
        expect((await token(`http://${external}:${allowed.sandbox.port}`)).status).toBe(200);
      } finally {
        await allowed.sandbox.close();
      }
    },
  );
});
