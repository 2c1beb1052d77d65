// The local host serving a foreign v4 app: routing, bindings in and out, errors, hooks, settings, auth.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { fixture, spawnDevhost, type DevhostProcess } from './support/devhost.js';

let host: DevhostProcess;

beforeAll(async () => {
  host = await spawnDevhost(fixture('http-app'), {
    env: { AzureWebJobsStorage: inject('storage'), OVERRIDDEN: 'from-env' },
  });
});
afterAll(async () => {
  await host?.stop();
});

const get = (path: string, init?: RequestInit): Promise<Response> => fetch(host.url + path, init);

describe('routing', () => {
  it('matches {id:int} and an optional {name?}, with params, query and headers', async () => {
    const res = await get('/api/echo/42/bob?x=1&y=two', { headers: { 'x-test': 'hello' } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      fn: 'echo',
      method: 'GET',
      params: { id: '42', name: 'bob' },
      query: { x: '1', y: 'two' },
      header: 'hello',
      body: '',
    });
    expect(body.url).toBe(`${host.url}/api/echo/42/bob?x=1&y=two`);
  });

  it('leaves an absent optional parameter out, and refuses a non-int for {id:int}', async () => {
    const ok = (await (await get('/api/echo/7')).json()) as { params: Record<string, string> };
    expect(ok.params).toEqual({ id: '7' });
    expect((await get('/api/echo/seven')).status).toBe(404);
  });

  it('decodes parameters and matches literals case-insensitively', async () => {
    const body = (await (await get('/API/Echo/1/J%C3%BCrgen%20M')).json()) as {
      params: Record<string, string>;
    };
    expect(body.params.name).toBe('Jürgen M');
  });

  it('gives a catch-all the rest of the path, slashes included', async () => {
    expect(await (await get('/api/files/a/b/c.txt')).text()).toBe('rest=a/b/c.txt');
    expect(await (await get('/api/files')).text()).toBe('rest=');
  });

  it('tries routes in function-name order, as the real host does', async () => {
    // "b-things" ({id}) sorts before "c-things-special": the generic route wins.
    expect(await (await get('/api/things/special')).text()).toBe('b-things');
    // "a-items-special" sorts before "d-items": the literal route wins.
    expect(await (await get('/api/items/special')).text()).toBe('a-items-special');
    expect(await (await get('/api/items/other')).text()).toBe('d-items');
  });

  it('routes a function without a route by its name', async () => {
    expect(await (await get('/api/defaultroute')).text()).toBe('by name');
  });

  it('answers a wrong method and an unknown path with 404, like the real host', async () => {
    expect((await get('/api/only-get', { method: 'POST' })).status).toBe(404);
    expect((await get('/api/only-get', { method: 'DELETE' })).status).toBe(404);
    expect((await get('/api/nowhere')).status).toBe(404);
    expect((await get('/only-get')).status).toBe(404);
  });

  it('adds host.json customHeaders to every reply', async () => {
    expect((await get('/api/only-get')).headers.get('x-fixture')).toBe('yes');
    expect((await get('/api/nowhere')).headers.get('x-fixture')).toBe('yes');
  });
});

describe('bodies in and out', () => {
  it('passes a text body through', async () => {
    const res = await get('/api/bodies/text', {
      method: 'POST',
      body: 'shout',
      headers: { 'content-type': 'text/plain' },
    });
    expect(await res.text()).toBe('SHOUT');
  });

  it('passes a JSON body through', async () => {
    const res = await get('/api/bodies/json', {
      method: 'POST',
      body: JSON.stringify({ a: [1, 2], b: 'é' }),
      headers: { 'content-type': 'application/json' },
    });
    expect(await res.json()).toEqual({ got: { a: [1, 2], b: 'é' }, type: 'application/json' });
  });

  it('keeps binary bodies byte for byte', async () => {
    const bytes = new Uint8Array(70_000).map((_, i) => (i * 31) % 256);
    const res = await get('/api/bodies/bytes', { method: 'POST', body: bytes });
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    expect(res.headers.get('x-length')).toBe('70000');
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(bytes);
  });

  it('parses form bodies', async () => {
    const res = await get('/api/bodies/form', {
      method: 'POST',
      body: new URLSearchParams({ a: '1', b: 'two words' }),
    });
    expect(await res.json()).toEqual({ a: '1', b: 'two words' });
  });

  it('sends the status, headers and cookies the handler set', async () => {
    const res = await get('/api/status/201');
    expect(res.status).toBe(201);
    expect(res.headers.get('x-out')).toBe('out-value');
    expect(res.headers.get('content-type')).toBe('text/plain');
    const cookie = res.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/^session=abc/);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Lax/);
    expect(cookie).toMatch(/Max-Age=60/);
    expect(await res.text()).toBe('status 201');
    const teapot = await get('/api/status/418');
    expect(teapot.status).toBe(418);
  });

  it('answers 204 when the handler returns nothing', async () => {
    const res = await get('/api/nothing');
    expect(res.status).toBe(204);
    expect(await res.text()).toBe('');
  });

  it('answers 500 with an empty body and logs the error when the handler throws', async () => {
    const res = await get('/api/boom');
    expect(res.status).toBe(500);
    expect(await res.text()).toBe('');
    await host.waitFor(/Executed 'Functions\.boom' \(Failed, Id=[0-9a-f-]+, Duration=\d+ms\)/);
    await host.waitFor(/kaboom from handler/);
    await host.waitFor(/about to fail/);
  });
});

describe('hooks and logging', () => {
  it('runs appStart, pre- and post-invocation hooks in order, sharing hook data', async () => {
    const res = await get('/api/hooked');
    expect(res.headers.get('x-wrapped')).toBe('by-pre-hook');
    expect(await res.json()).toEqual({ started: 'app-start-ran', post: 'pre-ran+post' });
  });

  it('lets a post hook rescue a failed invocation', async () => {
    const res = await get('/api/rescued');
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('rescued by post hook');
  });

  it('logs Executing/Executed with the invocation id and honours per-function log levels', async () => {
    await get('/api/only-get');
    const line = await host.waitFor(
      /Executed 'Functions\.only-get' \(Succeeded, Id=([0-9a-f-]{36}), Duration=\d+ms\)/,
    );
    const id = /Id=([0-9a-f-]{36})/.exec(line)![1]!;
    expect(host.output()).toContain(
      `Executing 'Functions.only-get' (Reason='This function was programmatically called via the host APIs.', Id=${id})`,
    );
    await get('/api/quiet');
    await get('/api/only-get');
    await new Promise((r) => setTimeout(r, 200));
    expect(host.output()).not.toContain('QUIET-USER-LOG');
  });
});

describe('settings and start-up listing', () => {
  it('fills unset variables from local.settings.json and lets the environment win', async () => {
    expect(await (await get('/api/settings')).json()).toEqual({
      fromSettings: 'settings-value',
      overridden: 'from-env',
      runtime: 'node',
    });
  });

  it('honours AzureWebJobs.<name>.Disabled', async () => {
    expect((await get('/api/disabled')).status).toBe(404);
  });

  it('prints each function with its methods and URL', () => {
    expect(host.output()).toContain(`echo: [GET,POST,PUT] ${host.url}/api/echo/{id:int}/{name?}`);
    expect(host.output()).toContain('queued: queueTrigger');
  });
});

describe('admin invocation', () => {
  it('runs a non-HTTP function now with the given input and answers 202', async () => {
    const res = await get('/admin/functions/queued', {
      method: 'POST',
      body: JSON.stringify({ input: '{"job":7}' }),
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(202);
    await host.waitFor(/QUEUED-INPUT \{"job":7\}/);
  });

  it('refuses unknown and HTTP functions clearly', async () => {
    expect((await get('/admin/functions/nope', { method: 'POST', body: '{}' })).status).toBe(404);
    const http = await get('/admin/functions/echo', { method: 'POST', body: '{}' });
    expect(http.status).toBe(400);
    expect(((await http.json()) as { error: { code: string } }).error.code).toBe('not-invocable');
  });

  it('says the clock is real unless --virtual-clock was given', async () => {
    const res = await get('/admin/devhost/clock');
    expect(((await res.json()) as { virtual: boolean }).virtual).toBe(false);
    expect(
      (await get('/admin/devhost/clock', { method: 'POST', body: '{"advanceBy":"P1D"}' })).status,
    ).toBe(409);
  });
});

describe('--enable-auth', () => {
  let secured: DevhostProcess;
  beforeAll(async () => {
    secured = await spawnDevhost(fixture('http-app'), {
      args: ['--port', '0', '--enable-auth'],
      env: {
        AzureWebJobsStorage: inject('storage'),
        DEVHOST_MASTER_KEY: 'master-key-for-tests',
        DEVHOST_FUNCTION_KEY: 'function-key-for-tests',
      },
    });
  });
  afterAll(async () => {
    await secured?.stop();
  });

  it('enforces function and admin keys, by header or ?code=', async () => {
    const at = (p: string, init?: RequestInit) => fetch(secured.url + p, init);
    expect((await at('/api/keyed')).status).toBe(401);
    expect((await at('/api/keyed?code=wrong')).status).toBe(401);
    expect((await at('/api/keyed?code=function-key-for-tests')).status).toBe(200);
    expect(
      (await at('/api/keyed', { headers: { 'x-functions-key': 'master-key-for-tests' } })).status,
    ).toBe(200);
    expect((await at('/api/adminonly?code=function-key-for-tests')).status).toBe(401);
    expect((await at('/api/adminonly?code=master-key-for-tests')).status).toBe(200);
    expect((await at('/api/only-get')).status).toBe(200);
    expect((await at('/admin/devhost/clock')).status).toBe(401);
    expect((await at('/admin/devhost/clock?code=master-key-for-tests')).status).toBe(200);
  });

  it('ignores auth levels without the flag, as Core Tools does', async () => {
    expect((await get('/api/keyed')).status).toBe(200);
    expect((await get('/api/adminonly')).status).toBe(200);
  });
});
