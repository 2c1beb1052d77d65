// Start-up: ESM apps load; bad host.json, failing entry points, bad routes and taken ports fail in one line.
import { createServer, type Server } from 'node:net';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { fixture, runDevhost, spawnDevhost } from './support/devhost.js';

const broken = (name: string) => fixture(`broken/${name}`);

async function failsWith(root: string, re: RegExp, args?: string[]): Promise<void> {
  const run = runDevhost(root, {
    ...(args ? { args } : {}),
    env: { AzureWebJobsStorage: inject('storage') },
  });
  const code = await run.exited;
  expect(code).not.toBe(0);
  const out = run.output().trim();
  expect(out).toMatch(re);
  // One line, no stack dump.
  expect(out.split('\n')).toHaveLength(1);
  expect(out).not.toMatch(/\n\s+at /);
}

describe('start-up', () => {
  it('loads an ESM app whose main is a brace glob', async () => {
    const host = await spawnDevhost(fixture('esm-app'));
    try {
      expect(await (await fetch(`${host.url}/api/a`)).json()).toEqual({ esm: true });
      expect(await (await fetch(`${host.url}/api/b?x=y`)).text()).toBe('y');
    } finally {
      await host.stop();
    }
  });

  it('fails on a host.json that is not JSON', async () => {
    await failsWith(broken('bad-hostjson'), /^devhost: .*host\.json is not valid JSON/);
  });

  it('fails on an entry point that throws while loading', async () => {
    await failsWith(
      broken('throws-on-load'),
      /^devhost: Worker was unable to load entry point "index\.js": entry point exploded$/,
    );
  });

  it('fails when main matches no file', async () => {
    await failsWith(
      broken('no-match'),
      /^devhost: Found zero files matching the supplied pattern "dist\/\*\.js"/,
    );
  });

  it('fails on an invalid route template', async () => {
    await failsWith(broken('bad-route'), /^devhost: Function "badroute": invalid route "x\/\{id"/);
  });

  it('fails on a schedule that is neither NCRONTAB nor a TimeSpan', async () => {
    await failsWith(
      broken('bad-schedule'),
      /^devhost: Function "badtimer": .*every tuesday.*not recognized/,
    );
  });

  it('fails on bad arguments', async () => {
    await failsWith(fixture('esm-app'), /^devhost: --port must be a number/, ['--port', 'abc']);
  });

  describe('with the port taken', () => {
    let blocker: Server;
    let port = 0;
    afterAll(() => new Promise<void>((r) => blocker.close(() => r())));
    it('fails with a one-line message naming the port', async () => {
      blocker = createServer();
      await new Promise<void>((r) => blocker.listen(0, () => r()));
      port = (blocker.address() as { port: number }).port;
      await failsWith(fixture('esm-app'), new RegExp(`^devhost: Port ${port} is unavailable`), [
        '--port',
        String(port),
      ]);
    });
  });
});
