// bench:migration — the large account's migration, 100 concurrent small ones, and storage requests per
// migration, with the app on the local host, the sandbox and Azurite in this run. Last line: one JSON object.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectionStringFor, startAzurite } from '../devhost/azurite.js';
import { durableExtension } from '../devhost/durable/index.js';
import { startHost } from '../devhost/host.js';
import { countingProxy } from './storageProxy.js';
import { appSettingsFor } from '../sandbox/cli.js';
import { startSandbox } from '../sandbox/server.js';
import { loadWorld, validateWorld, type World } from '../sandbox/world.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const SMALL = Number(process.env.BENCH_MIGRATIONS ?? 100);
const D365_OFFERS = 50;

/** The demo world plus `n` small accounts like Contoso's, each with its own owner. */
function benchWorld(demo: World, n: number): World {
  const contoso = demo.cppAccounts.find((a) => a.id === 'cpp-contoso')!;
  const extra = Array.from({ length: n }, (_, i) => ({
    ...contoso,
    id: `bench-${i}`,
    displayName: `Bench ${i}`,
    users: [
      { email: `owner${i}@contoso.com`, role: 'owner' as const },
      ...contoso.users.filter((u) => u.role !== 'owner'),
    ],
  }));
  // A publisher with 50 Dynamics 365 / PowerApps offers (one in five not in AppSource yet).
  const d365 = {
    ...contoso,
    id: 'bench-d365',
    displayName: 'Bench D365',
    users: [{ email: 'd365owner@contoso.com', role: 'owner' as const }],
    offers: Array.from({ length: D365_OFFERS }, (_, i) => ({
      id: `bench-d365-offer-${String(i).padStart(2, '0')}`,
      name: `Bench D365 offer ${i}`,
      kind: i % 2 ? ('powerapps' as const) : ('dynamics-365-operations' as const),
      status: 'live' as const,
      inAppSource: i % 5 !== 0,
      supportsLatestPlatform: true,
    })),
  };
  return validateWorld({
    ...demo,
    name: `bench${n}`,
    cppAccounts: [...demo.cppAccounts, ...extra, d365],
  });
}

async function main(): Promise<void> {
  const azurite = await startAzurite();
  const proxy = await countingProxy(azurite.tablePort);
  const world = benchWorld(
    await loadWorld(path.join(root, 'sandbox', 'worlds', 'demo.json')),
    SMALL,
  );
  const sandbox = await startSandbox({
    world,
    port: 0,
    storage: azurite.connectionString,
    table: 'BenchSandbox',
    certificationSeconds: 0,
  });
  Object.assign(process.env, {
    AzureWebJobsStorage: connectionStringFor('127.0.0.1', {
      blob: azurite.blobPort,
      queue: azurite.queuePort,
      table: proxy.port,
    }),
    ...appSettingsFor(sandbox.url),
    CPP_RETIREMENT_DATE: '2099-12-31T23:59:59Z',
    BACKSYNC_INTERVAL_SECONDS: '3600',
  });
  const host = await startHost({
    scriptRoot: root,
    port: 0,
    logSink: { write() {} },
    extensions: [durableExtension],
  });
  console.info = () => {}; // the app's mail log lines
  const token = async (email: string): Promise<string> =>
    (
      (await (
        await fetch(`${sandbox.url}/dev/token`, { method: 'POST', body: JSON.stringify({ email }) })
      ).json()) as { access_token: string }
    ).access_token;
  let polls = 0;
  const migrate = async (accountId: string, owner: string, workEmail: string): Promise<string> => {
    const auth = {
      authorization: `Bearer ${await token(owner)}`,
      'content-type': 'application/json',
    };
    const start = await fetch(`${host.baseUrl}/api/accounts/${accountId}/migration`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ workEmail }),
    });
    if (start.status !== 202) throw new Error(`${accountId}: start answered ${start.status}`);
    for (;;) {
      polls++;
      const s = (await (
        await fetch(`${host.baseUrl}/api/accounts/${accountId}/migration`, { headers: auth })
      ).json()) as { status: string };
      if (['completed', 'failed', 'cancelled'].includes(s.status)) return s.status;
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  try {
    console.log(`bench:migration — node ${process.version}; app, sandbox and Azurite in this run`);
    let t = performance.now();
    const large = await migrate('cpp-litware', 'lara@litware.com', 'lara@litware.com');
    const largeMigrationSeconds = (performance.now() - t) / 1000;
    console.log(
      `large account (2,000 users, 300 offers): ${largeMigrationSeconds.toFixed(2)} s (${large})`,
    );

    const before = proxy.count();
    const kindsBefore = proxy.kinds();
    polls = 0;
    t = performance.now();
    const results = await Promise.all(
      Array.from({ length: SMALL }, (_, i) =>
        migrate(`bench-${i}`, `owner${i}@contoso.com`, `owner${i}@contoso.com`),
      ),
    );
    const hundredMigrationsSeconds = (performance.now() - t) / 1000;
    // Each status poll of the client is one point read; they are the portal's cost, not the migration's.
    const storageOpsPerMigration = (proxy.count() - before - polls) / SMALL;
    const completed = results.filter((r) => r === 'completed').length;
    console.log(
      `${SMALL} concurrent small migrations: ${hundredMigrationsSeconds.toFixed(2)} s (${completed} completed)`,
    );
    console.log(
      `storage requests per small migration (app + host, Table storage; status polls excluded): ${storageOpsPerMigration.toFixed(1)}`,
    );
    const perMigration = [...proxy.kinds()]
      .map(([k, n]) => {
        // the status polls are point reads of the Migrations table: left out, as in the total
        const own = n - (kindsBefore.get(k) ?? 0) - (k === 'GET Migrations' ? polls : 0);
        return [k, own / SMALL] as const;
      })
      .filter(([, n]) => n >= 0.5)
      .sort((a, b) => b[1] - a[1]);
    console.log(`  of which: ${perMigration.map(([k, n]) => `${k} ${n.toFixed(1)}`).join(', ')}`);

    // R-D365: the checklist of a publisher with 50 offers, certification instant, from the start to every
    // offer ready to go live (the owner confirms the ISV addendum as soon as the steps are shown).
    const d365Auth = {
      authorization: `Bearer ${await token('d365owner@contoso.com')}`,
      'content-type': 'application/json',
    };
    const d365Url = `${host.baseUrl}/api/accounts/bench-d365/d365`;
    type Checklist = { steps: { name: string; state: string }[]; offers: { state: string }[] };
    const readChecklist = async (): Promise<Checklist> =>
      (await (await fetch(d365Url, { headers: d365Auth })).json()) as Checklist;
    t = performance.now();
    const started = await fetch(d365Url, { method: 'POST', headers: d365Auth });
    if (started.status !== 202) throw new Error(`d365: start answered ${started.status}`);
    while ((await readChecklist()).steps.length === 0) await new Promise((r) => setTimeout(r, 20));
    await fetch(`${d365Url}/attest`, {
      method: 'POST',
      headers: d365Auth,
      body: JSON.stringify({ step: 'isv-addendum' }),
    });
    let ready = 0;
    for (;;) {
      const c = await readChecklist();
      ready = c.offers.filter((o) => o.state === 'ready-to-go-live').length;
      if (ready === D365_OFFERS) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const d365FiftyOffersSeconds = (performance.now() - t) / 1000;
    console.log(
      `D365 checklist, ${D365_OFFERS} offers, certification instant: ${d365FiftyOffersSeconds.toFixed(2)} s to all ready to go live`,
    );
    console.log(
      JSON.stringify({
        largeMigrationSeconds: Number(largeMigrationSeconds.toFixed(2)),
        hundredMigrationsSeconds: Number(hundredMigrationsSeconds.toFixed(2)),
        storageOpsPerMigration: Number(storageOpsPerMigration.toFixed(1)),
        d365FiftyOffersSeconds: Number(d365FiftyOffersSeconds.toFixed(2)),
      }),
    );
  } finally {
    await host.close();
    await sandbox.close();
    proxy.server.close();
    await azurite.stop();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
