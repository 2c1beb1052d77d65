// Deadline reminders end to end (R-DUE, R-COPY-5): the app on the local host under a virtual clock, the
// sandbox's CPP listing and its Azure Communication Services mail sink, read back with GET /dev/mail.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot, spawnDevhost } from './support/devhost.js';
import { startE2E, type E2E } from './support/e2e.js';

interface SentMail {
  operationId: string;
  to: string[];
  subject: string;
  text: string;
}

/** Unfinished accounts of the demo world (cpp-wideworld is migrated already). */
const UNFINISHED = [
  'cpp-contoso',
  'cpp-fabrikam-msa',
  'cpp-northwind',
  'cpp-tailspin',
  'cpp-litware',
];
const deadlineKey = (d: string): string =>
  new Date(d).toISOString().replace(/[-:]/g, '').replace('.000', '');
const sweepId = (day: string, deadline = '2019-10-15T23:59:59-07:00'): string =>
  `reminderSweep-${day}-${deadlineKey(deadline)}`;

/** Every mail that arrived (D365 checklist reminders included). */
async function allMail(e: E2E): Promise<SentMail[]> {
  return ((await (await fetch(`${e.sandbox.url}/dev/mail`)).json()) as { items: SentMail[] }).items;
}
/** The account migration's mail: the D365 checklist's reminders are a subject of their own. */
async function mail(e: E2E): Promise<SentMail[]> {
  return (await allMail(e)).filter((m) => !/Dynamics 365/.test(m.subject));
}

async function ownersOf(e: E2E): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const id of [...UNFINISHED, 'cpp-wideworld']) {
    const users = (await (await fetch(`${e.sandbox.url}/cpp/accounts/${id}/users`)).json()) as {
      items: { email: string; role: string }[];
    };
    out[id] = users.items.find((u) => u.role === 'owner')!.email;
  }
  return out;
}

async function instance(e: E2E, id: string): Promise<{ runtimeStatus?: string; output?: unknown }> {
  const res = await fetch(`${e.app.url}/runtime/webhooks/durabletask/instances/${id}`);
  return res.status === 404 ? {} : ((await res.json()) as { runtimeStatus?: string });
}

async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  ms = 30_000,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function setClock(e: E2E, iso: string): Promise<void> {
  const res = await fetch(`${e.app.url}/admin/devhost/clock`, {
    method: 'POST',
    body: JSON.stringify({ set: iso }),
  });
  expect(res.status).toBe(200);
}

const sweepDone = (e: E2E, id: string): Promise<{ output?: unknown }> =>
  until(`the sweep ${id}`, async () => {
    const s = await instance(e, id);
    if (s.runtimeStatus === 'Failed') throw new Error(`sweep ${id} failed: ${JSON.stringify(s)}`);
    return s.runtimeStatus === 'Completed' ? s : undefined;
  }).catch(async (err: unknown) => {
    const all = await fetch(
      `${e.app.url}/runtime/webhooks/durabletask/instances?instanceIdPrefix=reminderSweep`,
    );
    console.log(JSON.stringify(await all.json()).slice(0, 3000), e.app.output().slice(-4000));
    throw err;
  });

/** Mails per recipient, as the subjects they got (the account migration's; the D365 checklist's are its own). */
const byRecipient = (items: SentMail[]): Record<string, string[]> => {
  const out: Record<string, string[]> = {};
  for (const m of items)
    if (!/Dynamics 365/.test(m.subject)) for (const to of m.to) (out[to] ??= []).push(m.subject);
  return out;
};

describe('a walk from 35 days before the deadline to 2 days after (America/Los_Angeles)', () => {
  let e: E2E;
  let owners: Record<string, string>;
  beforeAll(async () => {
    e = await startE2E(
      'remwalk',
      { REMINDER_SCHEDULE: '0 0 8 * * *', OUTBOX_SCHEDULE: '0 0 0 1 1 *' },
      ['--virtual-clock=2019-09-10T12:00:00Z'],
    );
    owners = await ownersOf(e);
  });
  afterAll(() => e?.close());

  it('reminds every unfinished subject exactly at its offsets and once after, and stops for one that finishes', async () => {
    const token = await e.token(owners['cpp-contoso']!);
    let fired = 0;
    // Day by day: 08:00 UTC fires the timer (01:00 in Los Angeles); 16:00 UTC is past the day's 08:00 local.
    for (
      let t = Date.parse('2019-09-11T08:00:00Z');
      t <= Date.parse('2019-10-17T08:00:00Z');
      t += 86_400_000
    ) {
      const day = new Date(t - 8 * 3_600_000).toISOString().slice(0, 10);
      await setClock(e, new Date(t).toISOString());
      await setClock(e, new Date(t + 8 * 3_600_000).toISOString());
      await sweepDone(e, sweepId(day));
      // The timer re-arms once its run has returned: move the clock on only then (as real time would).
      fired++;
      await until('the timer run to return', () =>
        Promise.resolve(
          (e.app.output().match(/Executed 'Functions\.deadlineReminders' \(Succeeded/g) ?? [])
            .length >= fired
            ? true
            : undefined,
        ),
      );
      if (day === '2019-10-02') {
        // Contoso finishes between its 14- and 7-day reminders.
        const start = await e.call('POST', '/api/accounts/cpp-contoso/migration', {
          token,
          body: { workEmail: owners['cpp-contoso'] },
        });
        expect(start.status).toBe(202);
        await e.waitForStatus('cpp-contoso', token, (s) => s.status === 'completed');
      }
    }
    const got = byRecipient(await mail(e));
    const reminders = (to: string): string[] =>
      (got[to] ?? []).filter((s) => !/now lives in Partner Center/.test(s));
    for (const id of ['cpp-fabrikam-msa', 'cpp-northwind', 'cpp-tailspin', 'cpp-litware']) {
      const subjects = reminders(owners[id]!);
      expect(subjects, id).toHaveLength(6);
      expect(
        subjects.filter((s) => /^Deadline (passed|verstreken)/.test(s)),
        id,
      ).toHaveLength(1);
    }
    // Never started, in Dutch where the world says so.
    expect(reminders(owners['cpp-northwind']!)[0]).toMatch(/^Nog 30 dagen: migreer/);
    expect(reminders(owners['cpp-litware']!)).toEqual([
      expect.stringMatching(/^30 days left/),
      expect.stringMatching(/^14 days left/),
      expect.stringMatching(/^7 days left/),
      expect.stringMatching(/^3 days left/),
      expect.stringMatching(/^1 day left/),
      expect.stringMatching(/^Deadline passed/),
    ]);
    // Contoso: 30 and 14, then it finished: nothing more, and its personal link arrived instead (R-COPY-5).
    const contoso = got[owners['cpp-contoso']!] ?? [];
    expect(contoso.filter((s) => /left/.test(s))).toEqual([
      expect.stringMatching(/^30 days left/),
      expect.stringMatching(/^14 days left/),
    ]);
    const link = (await mail(e)).find((m) => /now lives in Partner Center/.test(m.subject));
    const status = await e.call('GET', '/api/accounts/cpp-contoso/migration', { token });
    expect(link?.text).toContain(status.body.partnerCenterUrl);
    // Status replies carry the deadline and the days left (R-DUE-1).
    expect(status.body).toMatchObject({ deadline: '2019-10-15T23:59:59-07:00' });
    expect(Number.isInteger(status.body.daysLeft)).toBe(true);
    // The migrated account was never reminded; no mail carries payout data.
    expect(JSON.stringify(await allMail(e))).not.toMatch(/iban|accountNumber|taxId/i);
  }, 300_000);

  it('lists what was sent for an account, with the deadline and the days left', async () => {
    const token = await e.token(owners['cpp-litware']!);
    const r = await e.call('GET', '/api/accounts/cpp-litware/reminders', { token });
    expect(r.status).toBe(200);
    expect(r.body.deadline).toBe('2019-10-15T23:59:59-07:00');
    expect(typeof r.body.daysLeft).toBe('number');
    expect(
      r.body.items.map((i: { subject: string; offsetDays: number }) => [i.subject, i.offsetDays]),
    ).toEqual([
      ['migration', 30],
      ['migration', 14],
      ['migration', 7],
      ['migration', 3],
      ['migration', 1],
      ['migration', 0],
    ]);
    const other = await e.token('mark.manager@contoso.com');
    expect(
      (await e.call('GET', '/api/accounts/cpp-litware/reminders', { token: other })).status,
    ).toBe(403);
  });
});

describe('a deadline already past at start-up, sweeps at once, a crash and a failing mail service', () => {
  let e: E2E;
  let owners: Record<string, string>;
  let admin: string;
  beforeAll(async () => {
    // Real clock: the source's 2019 deadline is long past.
    e = await startE2E('rempast', {
      REMINDER_SCHEDULE: '0 0 0 1 1 *',
      OUTBOX_SCHEDULE: '0 0 0 1 1 *',
    });
    owners = await ownersOf(e);
    admin = await e.token('admin@example.com', { roles: ['Migration.Admin'] });
  });
  afterAll(() => e?.close());

  it('sends the overdue notice once, never the missed offsets, however many sweeps run at once', async () => {
    // Slow mail, so that the sweeps overlap; the admin route twice, and a second instance started directly.
    await fetch(`${e.sandbox.url}/dev/faults`, {
      method: 'POST',
      body: JSON.stringify({ route: '/emails:send', latencyMs: 300, times: 10 }),
    });
    const [a, b] = await Promise.all([
      e.call('POST', '/api/admin/reminders/run', { token: admin }),
      e.call('POST', '/api/admin/reminders/run', { token: admin }),
    ]);
    expect([a.status, b.status]).toEqual([202, 202]);
    expect(a.body.instanceId).toBe(b.body.instanceId);
    const input = {
      day: 'manual',
      schedule: {
        deadline: '2019-10-15T23:59:59-07:00',
        timeZone: 'America/Los_Angeles',
        offsetsDays: [30, 14, 7, 3, 1],
        localHour: 8,
      },
      shards: 16,
      requestedBy: 'test',
    };
    const second = await fetch(
      `${e.app.url}/runtime/webhooks/durabletask/orchestrators/reminderSweep/reminderSweep-second`,
      {
        method: 'POST',
        body: JSON.stringify(input),
        headers: { 'content-type': 'application/json' },
      },
    );
    expect(second.status).toBe(202);
    await sweepDone(e, a.body.instanceId);
    await sweepDone(e, 'reminderSweep-second');
    const got = byRecipient(await mail(e));
    for (const id of UNFINISHED)
      expect(got[owners[id]!], id).toEqual([
        expect.stringMatching(/^Deadline (passed|verstreken)/),
      ]);
    expect(got[owners['cpp-wideworld']!]).toBeUndefined();
  }, 60_000);

  it('a sweep killed while mail is on the wire sends the rest after a restart, nothing twice', async () => {
    // A fresh account state: the notices above are in the ledger, so this sweep is for a new deadline.
    await fetch(`${e.sandbox.url}/dev/mail`, { method: 'DELETE' });
    const env = { ...e.app.env, MIGRATION_DEADLINE: '2019-10-20T23:59:59-07:00' };
    await e.app.stop();
    e.app = Object.assign(await spawnDevhost(projectRoot, { env }), { env });
    await fetch(`${e.sandbox.url}/dev/faults`, {
      method: 'POST',
      body: JSON.stringify({ route: '/emails:send', latencyMs: 1500, times: 5 }),
    });
    const run = await e.call('POST', '/api/admin/reminders/run', { token: admin });
    expect(run.status).toBe(202);
    // Kill the host while the sends hang on the latency fault: none was marked sent.
    await until('mail on the wire', async () => {
      const faults = (await (await fetch(`${e.sandbox.url}/dev/faults`)).json()) as {
        times: number;
      }[];
      return faults.some((f) => f.times < 5) ? true : undefined;
    });
    await e.app.stop('SIGKILL');
    e.app = Object.assign(await spawnDevhost(projectRoot, { env }), { env });
    await sweepDone(e, run.body.instanceId);
    await until('every notice', async () => ((await mail(e)).length >= 5 ? true : undefined));
    const got = byRecipient(await mail(e));
    for (const id of UNFINISHED) expect(got[owners[id]!], id).toHaveLength(1);
  }, 90_000);

  it('a failing mail service delays mail but loses none', async () => {
    await fetch(`${e.sandbox.url}/dev/mail`, { method: 'DELETE' });
    const env = { ...e.app.env, MIGRATION_DEADLINE: '2019-10-25T23:59:59-07:00' };
    await e.app.stop();
    e.app = Object.assign(await spawnDevhost(projectRoot, { env }), { env });
    await fetch(`${e.sandbox.url}/dev/faults`, {
      method: 'POST',
      body: JSON.stringify({ route: '/emails:send', status: 503, times: 3 }),
    });
    const run = await e.call('POST', '/api/admin/reminders/run', { token: admin });
    const done = await sweepDone(e, run.body.instanceId);
    // Five migration subjects and three D365 checklists (Contoso, Fabrikam, Tailspin have such offers).
    expect(done.output).toMatchObject({ sent: 5, pendingMail: 3 });
    expect(await allMail(e)).toHaveLength(5);
    // The outbox sender (a timer; run now as the host's admin API allows) retries after its backoff.
    await until(
      'the retried mail',
      async () => {
        await fetch(`${e.app.url}/admin/functions/outboxSender`, { method: 'POST', body: '{}' });
        return (await mail(e)).length >= 5 ? true : undefined;
      },
      30_000,
    );
    const got = byRecipient(await mail(e));
    for (const id of UNFINISHED) expect(got[owners[id]!], id).toHaveLength(1);
  }, 60_000);
});
