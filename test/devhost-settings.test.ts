// host.json at work: functionTimeout, an empty routePrefix (and its environment override), log hooks.
import { afterEach, describe, expect, it } from 'vitest';
import { fixture, spawnDevhost, type DevhostProcess } from './support/devhost.js';

const hosts: DevhostProcess[] = [];
afterEach(async () => {
  await Promise.all(hosts.splice(0).map((h) => h.stop()));
});

describe('host.json', () => {
  it('fails an invocation that outlives functionTimeout with the host message', async () => {
    const host = await spawnDevhost(fixture('timeout-app'));
    hosts.push(host);
    expect(await (await fetch(`${host.url}/sleep/10`)).text()).toBe('awake');
    const slow = await fetch(`${host.url}/sleep/2500`);
    expect(slow.status).toBe(500);
    await host.waitFor(/Timeout value of 00:00:01 was exceeded by function: Functions\.sleepy/);
  });

  it('serves routes without a prefix, and lets AzureFunctionsJobHost__ override host.json', async () => {
    const plain = await spawnDevhost(fixture('timeout-app'));
    hosts.push(plain);
    expect((await fetch(`${plain.url}/seen`)).status).toBe(200);
    const prefixed = await spawnDevhost(fixture('timeout-app'), {
      env: { AzureFunctionsJobHost__extensions__http__routePrefix: 'v2' },
    });
    hosts.push(prefixed);
    expect((await fetch(`${prefixed.url}/seen`)).status).toBe(404);
    expect((await fetch(`${prefixed.url}/v2/seen`)).status).toBe(200);
  });

  it('passes user logs through log hooks, which may rewrite them', async () => {
    const host = await spawnDevhost(fixture('timeout-app'));
    hosts.push(host);
    await fetch(`${host.url}/sleep/1`);
    expect(await (await fetch(`${host.url}/seen`)).json()).toContain('going to sleep');
    await host.waitFor(/\[hooked\] going to sleep/);
  });
});
