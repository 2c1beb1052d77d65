// The app itself on the local host: health, the OpenAPI document, and `npm start` with embedded Azurite.
import { spawn } from 'node:child_process';
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
});

describe('npm start', () => {
  it('starts Azurite and the sandbox by itself, serves the app, and stops everything on Ctrl-C', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, SANDBOX_PORT: '0' };
    delete env.AzureWebJobsStorage;
    const child = spawn(
      process.execPath,
      [path.join(projectRoot, 'dist/sandbox/start.js'), '--port', '0'],
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
