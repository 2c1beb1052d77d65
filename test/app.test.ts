// The app itself on the local host: health, the OpenAPI document, and `npm start` with embedded Azurite.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { projectRoot, runDevhost, spawnDevhost, type DevhostProcess } from './support/devhost.js';

describe('the app on the local host', () => {
  let host: DevhostProcess;
  beforeAll(async () => {
    host = await spawnDevhost(projectRoot, { env: { AzureWebJobsStorage: inject('storage') } });
  });
  afterAll(async () => {
    await host?.stop();
  });

  it('answers GET /api/health', async () => {
    const res = await fetch(`${host.url}/api/health`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('serves an OpenAPI 3.1 document describing its routes', async () => {
    const res = await fetch(`${host.url}/api/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as {
      openapi: string;
      paths: Record<string, unknown>;
      components: { schemas: Record<string, unknown> };
    };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/api/health',
        '/api/accounts/{accountId}/banner',
        '/api/accounts/{accountId}/preflight',
        '/api/accounts/{accountId}/migration',
        '/api/accounts/{accountId}/migration/work-email',
        '/api/accounts/{accountId}/migration/mpn',
        '/api/accounts/{accountId}/migration/cancel',
        '/api/accounts/{accountId}/migration/audit',
        '/api/admin/migrations',
      ]),
    );
    expect(doc.components.schemas).toHaveProperty('MigrationStatus');
    expect(doc.components.schemas).toHaveProperty('Error');
  });

  it("describes exactly api.md's routes, route for route", async () => {
    // api.md's route table, as copied into the fixture (api.md itself is outside the repository).
    const fixture = path.join(projectRoot, 'test/fixtures/contract/api-md-routes.txt');
    const tableOf = (text: string): string[] => text.split('\n').filter((l) => l.startsWith('|'));
    const table = tableOf(await readFile(fixture, 'utf8'));
    const contract = table.flatMap((line) => {
      const m = /^\| `(GET|POST|PUT|PATCH|DELETE) (\/[^`?]+)(?:\?[^`]*)?` \|/.exec(line);
      return m ? [`${m[1]} ${m[2]}`] : [];
    });
    expect(contract).toHaveLength(17);
    // Routes of api.md that are not built yet. Each must be absent from the document: whoever builds
    // one takes it off this list (else this test fails), so the document never drifts unnoticed.
    const NOT_BUILT_YET: string[] = [];
    for (const route of NOT_BUILT_YET) expect(contract).toContain(route);
    const doc = (await (await fetch(`${host.url}/api/openapi.json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const served = Object.entries(doc.paths).flatMap(([p, item]) =>
      Object.keys(item)
        .filter((k) => ['get', 'post', 'put', 'patch', 'delete'].includes(k))
        .map((k) => `${k.toUpperCase()} ${p}`),
    );
    expect(served.filter((r) => NOT_BUILT_YET.includes(r))).toEqual([]);
    expect([...served].sort()).toEqual(contract.filter((r) => !NOT_BUILT_YET.includes(r)).sort());
    // Where api.md is at hand (a checkout beside ../shared), the fixture must still be its table.
    const apiMd = path.join(projectRoot, '..', 'shared', 'docs', 'api.md');
    if (existsSync(apiMd)) {
      const text = await readFile(apiMd, 'utf8');
      const routes = text.slice(
        text.indexOf('## Routes'),
        text.indexOf('### ', text.indexOf('## Routes')),
      );
      expect(table).toEqual(tableOf(routes));
    }
  });
});

describe('npm start', () => {
  it('starts Azurite and the sandbox by itself, serves the app, and stops everything on Ctrl-C', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, SANDBOX_PORT: '0' };
    delete env.AzureWebJobsStorage;
    const child = spawn(
      process.execPath,
      [path.join(projectRoot, 'dist-dev/scripts/start.js'), '--port', '0'],
      {
        cwd: projectRoot,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      const deadline = Date.now() + 40_000;
      while (
        !/App: (http:\/\/localhost:\d+)/.test(out) &&
        Date.now() < deadline &&
        child.exitCode === null
      ) {
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(out).toMatch(/Azurite: table http:\/\/127\.0\.0\.1:\d+/);
      expect(out).toMatch(/Sandbox: http:\/\/localhost:\d+/);
      const base = /App: (http:\/\/localhost:\d+)/.exec(out)![1]!;
      const tablePort = Number(/Azurite: table http:\/\/127\.0\.0\.1:(\d+)/.exec(out)![1]);
      expect(await (await fetch(`${base}/api/health`)).json()).toEqual({ status: 'ok' });
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      // Azurite went down with it.
      await expect(
        fetch(`http://127.0.0.1:${tablePort}/devstoreaccount1/Tables`),
      ).rejects.toThrow();
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 60_000);
});

describe('the app with a bad setting', () => {
  it('stops at load with one line naming a deadline zone that is not IANA (R-DUE-1)', async () => {
    const run = runDevhost(projectRoot, {
      env: { AzureWebJobsStorage: inject('storage'), MIGRATION_TIME_ZONE: 'PST' },
    });
    expect(await run.exited).toBe(1);
    const out = run.output().trim();
    expect(out).toMatch(/MIGRATION_TIME_ZONE: expected an IANA time zone/);
    expect(out.split('\n')).toHaveLength(1);
  });
});
