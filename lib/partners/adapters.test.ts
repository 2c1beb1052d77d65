import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createPartnerAdapters, UNKNOWN_TENANT } from './adapters.js';
import { RateLimiter } from './http.js';

let server: Server | undefined;
afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

/** A partner stand-in that answers every request 200 with a body every adapter can read. */
async function anything(): Promise<string> {
  server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ items: [], partnerCenterUrl: 'https://pc.example/x', counts: {} }));
  });
  await new Promise<void>((r) => server!.listen(0, () => r()));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

/** A limiter that lets everything through at once and records the key of each turn. */
class RecordingLimiter extends RateLimiter {
  readonly keys: string[] = [];
  constructor() {
    super(1, 1);
  }
  override take(key: string): Promise<void> {
    this.keys.push(key);
    return Promise.resolve();
  }
}

describe('Partner Center rate limit (R-OPS-3)', () => {
  it('takes a turn for every call, reads included, keyed by the partner tenant, not the CPP account', async () => {
    const url = await anything();
    const limiter = new RecordingLimiter();
    // Two CPP accounts of one tenant, and one of another.
    const tenants: Record<string, string> = { 'acc-a1': 'tenant-a', 'acc-a2': 'tenant-a' };
    const { partnerCenter: pc } = createPartnerAdapters(
      { entra: url, graph: url, partnerCenter: url, cpp: url },
      { limiter, tenantOf: (id) => Promise.resolve(tenants[id]) },
    );
    await pc.listUsers('acc-a1');
    await pc.summary('acc-a2');
    await pc.upsertUsers('acc-a1', [], 'r1');
    await pc.upsertOffers('acc-a2', [], 'r2');
    await pc.putDocument('acc-a1', 'company-profile', {}, 'r3');
    await pc.activate('acc-a2', 'r4');
    await pc.getMpnProfile('1234567', 'tenant-a');
    await pc.listUsers('acc-b');
    await pc.getMpnProfile('7654321');
    expect(limiter.keys).toEqual([
      ...Array<string>(7).fill('tenant-a'),
      UNKNOWN_TENANT,
      UNKNOWN_TENANT,
    ]);
  });
});
