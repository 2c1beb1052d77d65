// bench:reminders — one offset-day reminder sweep over a generated world of 100,000 CPP accounts of which
// 10,000 are unfinished: wall time, storage requests (app and host, counted at a proxy in front of Azurite's
// table port), mail in the sandbox's sink; and, for comparison, a full scan of every account. Last line JSON.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectionStringFor, startAzurite } from '../devhost/azurite.js';
import { durableExtension } from '../devhost/durable/index.js';
import { startHost } from '../devhost/host.js';
import { createReminderActivities } from '../functions/activities/reminders.js';
import { loadConfig, reminderSchedule } from '../lib/config.js';
import { createPartnerAdapters } from '../lib/partners/adapters.js';
import { TableMigrationStore } from '../lib/store/migrations.js';
import { TableSubjectIndex } from '../lib/store/subjects.js';
import type { Outbox } from '../lib/notify/outbox.js';
import { countingProxy } from './storageProxy.js';
import { appSettingsFor } from '../sandbox/cli.js';
import { validateWorld, type World } from '../sandbox/world.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const ACCOUNTS = Number(process.env.BENCH_ACCOUNTS ?? 100_000);
const UNFINISHED = Number(process.env.BENCH_UNFINISHED ?? 10_000);

/** `n` small accounts; every (n / unfinished)-th one has not migrated. Half the unfinished read Dutch. */
function generatedWorld(n: number, unfinished: number): World {
  const tenantId = '6513270e-269e-4d37-b2a7-4de452e6b438';
  const every = Math.max(1, Math.floor(n / unfinished));
  const cppAccounts = Array.from({ length: n }, (_, i) => {
    const open = i % every === 0 && i / every < unfinished;
    return {
      id: `acc-${i}`,
      displayName: `Publisher ${i}`,
      signIn: 'work' as const,
      tenantId,
      mpnId: null,
      migrated: !open,
      ...(open && i % 2 ? { language: 'nl' as const } : {}),
      users: [{ email: `owner${i}@contoso.com`, role: 'owner' as const }],
      publishingAgreement: { version: '2019-06' },
      companyProfile: { legalName: `Publisher ${i}` },
      payoutProfile: { currency: 'EUR' },
      offers: [],
    };
  });
  return validateWorld({
    $schema: 'sandbox-world/v1',
    name: `reminders${n}`,
    consumerTenantId: '9188040d-6c67-4c5b-b112-36a304b66dad',
    consumerDomains: ['outlook.com'],
    tenants: [{ id: tenantId, displayName: 'Contoso Ltd', domains: ['contoso.com'] }],
    mpn: [],
    cppAccounts,
    admins: ['admin@contoso.com'],
  });
}

/** `node dist-dev/sandbox/cli.js --world FILE --port 0` in a child process; resolves with its URL. */
function sandboxProcess(
  worldFile: string,
  storage: string,
): Promise<{ url: string; child: ChildProcess; close(): Promise<void> }> {
  const child = spawn(
    process.execPath,
    [path.join(root, 'dist-dev', 'sandbox', 'cli.js'), '--world', worldFile, '--port', '0'],
    { env: { ...process.env, AzureWebJobsStorage: storage }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /Sandbox listening on (\S+)/.exec(out);
      if (m)
        resolve({
          url: m[1]!,
          child,
          close: () =>
            new Promise((done) => {
              child.once('exit', () => done());
              child.kill();
            }),
        });
    });
    child.once('exit', (code) => reject(new Error(`the sandbox exited (${code}): ${out}`)));
  });
}

async function main(): Promise<void> {
  const azurite = await startAzurite();
  const proxy = await countingProxy(azurite.tablePort);
  let t = performance.now();
  const world = generatedWorld(ACCOUNTS, UNFINISHED);
  // The sandbox stands in for remote services (CPP, the mail service): its own process, as they would be.
  const worldFile = path.join(tmpdir(), `bench-reminders-${process.pid}.json`);
  await writeFile(worldFile, JSON.stringify(world));
  const sandbox = await sandboxProcess(worldFile, azurite.connectionString);
  // An offset day today: the deadline 7 days ahead in UTC, reminders due from midnight.
  const today = new Date();
  const deadline = new Date(
    Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() + 7, 23, 59, 59),
  );
  const storage = connectionStringFor('127.0.0.1', {
    blob: azurite.blobPort,
    queue: azurite.queuePort,
    table: proxy.port,
  });
  Object.assign(process.env, {
    AzureWebJobsStorage: storage,
    ...appSettingsFor(sandbox.url),
    MIGRATION_DEADLINE: deadline.toISOString(),
    MIGRATION_TIME_ZONE: 'UTC',
    REMINDER_LOCAL_HOUR: '0',
    REMINDER_OFFSETS_DAYS: '30,14,7,3,1',
    // No timer fires during the run: the sweep is started by the admin route.
    REMINDER_SCHEDULE: '0 0 0 1 1 *',
    OUTBOX_SCHEDULE: '0 0 0 1 1 *',
  });
  const host = await startHost({
    scriptRoot: root,
    port: 0,
    logSink: { write() {} },
    extensions: [durableExtension],
  });
  console.info = () => {};
  try {
    console.log(
      `bench:reminders — node ${process.version}; ${ACCOUNTS} CPP accounts, ${UNFINISHED} unfinished; world ready in ${((performance.now() - t) / 1000).toFixed(2)} s`,
    );
    // The subject index is built once from CPP's listing (the first sweep would do it); not the measure.
    const cfg = loadConfig(process.env);
    const partners = createPartnerAdapters(
      { entra: sandbox.url, graph: sandbox.url, partnerCenter: sandbox.url, cpp: sandbox.url },
      {},
    );
    const unusedOutbox = {} as Outbox;
    const subjects = new TableSubjectIndex(storage, 'Subjects');
    t = performance.now();
    const built = await createReminderActivities({
      subjects,
      outbox: unusedOutbox,
      cpp: partners.cpp,
      schedule: reminderSchedule(cfg),
      portalUrl: cfg.PORTAL_URL,
    }).refreshSubjects({});
    console.log(
      `subject index built from the CPP listing: ${built.changed} accounts read in ${((performance.now() - t) / 1000).toFixed(2)} s`,
    );

    const admin = (
      (await (
        await fetch(`${sandbox.url}/dev/token`, {
          method: 'POST',
          body: JSON.stringify({ email: 'admin@contoso.com' }),
        })
      ).json()) as { access_token: string }
    ).access_token;
    // What one status poll costs in storage requests, so that the waiting is not counted as the sweep's.
    const statusOf = async (id: string): Promise<string | undefined> => {
      const r = await fetch(`${host.baseUrl}/runtime/webhooks/durabletask/instances/${id}`);
      return r.status === 200
        ? ((await r.json()) as { runtimeStatus: string }).runtimeStatus
        : undefined;
    };
    let c = proxy.count();
    await statusOf('no-such-instance');
    const perPoll = proxy.count() - c;

    const before = proxy.count();
    let polls = 0;
    t = performance.now();
    const run = (await (
      await fetch(`${host.baseUrl}/api/admin/reminders/run`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin}` },
      })
    ).json()) as { instanceId: string };
    let status: string | undefined;
    do {
      await new Promise((r) => setTimeout(r, 200));
      polls++;
      status = await statusOf(run.instanceId);
    } while (status !== 'Completed' && status !== 'Failed');
    const sweepSeconds = (performance.now() - t) / 1000;
    const storageRequests = proxy.count() - before - polls * perPoll;
    const output = (await (
      await fetch(
        `${host.baseUrl}/runtime/webhooks/durabletask/instances/${run.instanceId}?showHistory=true`,
      )
    ).json()) as {
      output: Record<string, unknown>;
      historyEvents?: {
        EventType: string;
        FunctionName?: string;
        Timestamp: string;
        ScheduledTime?: string;
      }[];
    };
    // Where the time went: from the history, the span of each activity name.
    const spans = new Map<string, { from: number; to: number }>();
    for (const ev of output.historyEvents ?? []) {
      if (ev.EventType !== 'TaskCompleted' || !ev.FunctionName) continue;
      const to = Date.parse(ev.Timestamp);
      const from = Date.parse(ev.ScheduledTime ?? ev.Timestamp);
      const span = spans.get(ev.FunctionName) ?? { from, to };
      spans.set(ev.FunctionName, { from: Math.min(span.from, from), to: Math.max(span.to, to) });
    }
    console.log(
      `phases: ${[...spans].map(([name, sp]) => `${name} ${((sp.to - sp.from) / 1000).toFixed(2)} s`).join(', ')}`,
    );
    const mails = ((await (await fetch(`${sandbox.url}/dev/stats`)).json()) as { mail: number })
      .mail;
    console.log(
      `offset-day sweep: ${sweepSeconds.toFixed(2)} s (${status}), ${storageRequests} storage requests, ${mails} mails in the sink; ${JSON.stringify(output.output)}`,
    );

    // For comparison, the sweep without the index: every CPP account listed, every migration status read.
    const store = new TableMigrationStore(storage, 'BenchScanMigrations');
    await store.init();
    c = proxy.count();
    t = performance.now();
    let token: string | undefined;
    let scanned = 0;
    let open = 0;
    const completed = new Set<string>();
    let statusToken: string | undefined;
    do {
      const page = await store.list('completed', statusToken);
      for (const m of page.items) completed.add(m.accountId);
      statusToken = page.continuationToken;
    } while (statusToken);
    do {
      const page = await partners.cpp.listAccounts(0, token);
      scanned += page.items.length;
      open += page.items.filter((a) => !a.migrated && !completed.has(a.id)).length;
      token = page.continuationToken;
    } while (token);
    const fullScanSeconds = (performance.now() - t) / 1000;
    console.log(
      `full scan: ${scanned} accounts read, ${open} unfinished, in ${fullScanSeconds.toFixed(2)} s (${proxy.count() - c} storage requests; no mail sent)`,
    );
    console.log(
      JSON.stringify({
        accounts: ACCOUNTS,
        due: UNFINISHED,
        sweepSeconds: Number(sweepSeconds.toFixed(2)),
        storageRequests,
        mails,
        fullScanSeconds: Number(fullScanSeconds.toFixed(2)),
      }),
    );
  } finally {
    await host.close();
    await sandbox.close();
    await rm(worldFile, { force: true });
    proxy.server.close();
    await azurite.stop();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
