// Deadline reminders end to end (R-DUE, R-COPY-5): the app on the local host under a virtual clock, the
// sandbox's CPP listing and its Azure Communication Services mail sink, read back with GET /dev/mail.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot, spawnDevhost } from './support/devhost.js';
import { startE2E, type E2E, until } from './support/e2e.js';
import { loadWorld } from '../sandbox/world.js';

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

/** Waits until the `deadlineReminders` timer has run `n` times: the timer re-arms once a run returned. */
function timerRuns(e: E2E, n: number): Promise<true> {
  return until('the timer run to return', () =>
    Promise.resolve(
      (e.app.output().match(/Executed 'Functions\.deadlineReminders' \(Succeeded/g) ?? []).length >=
        n
        ? true
        : undefined,
    ),
  );
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
      await timerRuns(e, fired);
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
    const world = (await loadWorld(`${projectRoot}/sandbox/worlds/demo.json`)).cppAccounts;
    const secrets = world.flatMap((a) =>
      Object.values(a.payoutProfile).filter(
        (v): v is string => typeof v === 'string' && v.length > 6,
      ),
    );
    const everything = JSON.stringify(await allMail(e)) + e.app.output();
    for (const secret of secrets)
      expect(everything.includes(secret), 'a payout value in mail or logs').toBe(false);
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

  /** Restarts the app with another deadline (fresh ledger rows), an empty mail sink and a mail fault. */
  async function freshDeadline(
    deadline: string,
    fault: Record<string, number>,
  ): Promise<Record<string, string>> {
    await fetch(`${e.sandbox.url}/dev/mail`, { method: 'DELETE' });
    const env = { ...e.app.env, MIGRATION_DEADLINE: deadline };
    await e.app.stop();
    e.app = Object.assign(await spawnDevhost(projectRoot, { env }), { env });
    await fetch(`${e.sandbox.url}/dev/faults`, {
      method: 'POST',
      body: JSON.stringify({ route: '/emails:send', ...fault }),
    });
    return env;
  }

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
    // The notices above are in the ledger: this sweep is for a new deadline.
    const env = await freshDeadline('2019-10-20T23:59:59-07:00', { latencyMs: 1500, times: 5 });
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
    await freshDeadline('2019-10-25T23:59:59-07:00', { status: 503, times: 3 });
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

// DST weeks: each reminder leaves at 08:00 local time on its day, before and after the clocks change.
describe.each([
  {
    zone: 'Europe/Amsterdam',
    deadline: '2019-10-29T23:59:59+01:00',
    schedule: '0 30 0 * * *', // 01:30 or 02:30 in Amsterdam: the same local day
    due: [
      ['2019-10-22', 7, '2019-10-22T06:00:00.000Z'], // CEST
      ['2019-10-26', 3, '2019-10-26T06:00:00.000Z'], // CEST, the night before the change
      ['2019-10-28', 1, '2019-10-28T07:00:00.000Z'], // CET
    ],
    fireAt: (day: string) => `${day}T00:30:00.000Z`,
  },
  {
    zone: 'America/Los_Angeles',
    deadline: '2019-11-05T23:59:59-08:00',
    schedule: '0 0 10 * * *', // 03:00 or 02:00 in Los Angeles
    due: [
      ['2019-10-29', 7, '2019-10-29T15:00:00.000Z'], // PDT
      ['2019-11-02', 3, '2019-11-02T15:00:00.000Z'], // PDT, the night before the change
      ['2019-11-04', 1, '2019-11-04T16:00:00.000Z'], // PST
    ],
    fireAt: (day: string) => `${day}T10:00:00.000Z`,
  },
] as const)('the DST week in $zone', ({ zone, deadline, schedule, due, fireAt }) => {
  let e: E2E;
  beforeAll(async () => {
    e = await startE2E(
      `dst${zone.slice(0, 3)}`,
      {
        MIGRATION_DEADLINE: deadline,
        MIGRATION_TIME_ZONE: zone,
        REMINDER_OFFSETS_DAYS: '7,3,1',
        REMINDER_SCHEDULE: schedule,
        OUTBOX_SCHEDULE: '0 0 0 1 1 *',
      },
      [`--virtual-clock=${due[0][0]}T00:00:00Z`],
    );
  });
  afterAll(() => e?.close());

  it('sends each reminder at 08:00 local time, whichever side of the change its day is', async () => {
    const owner = (await ownersOf(e))['cpp-litware']!;
    const token = await e.token(owner);
    let fired = 0;
    // Day by day, as real time goes: the timer fires early in each local day.
    const first = Date.parse(`${due[0][0]}T00:00:00Z`);
    const last = Date.parse(`${due[due.length - 1]![0]}T00:00:00Z`);
    for (let t = first; t <= last; t += 86_400_000) {
      const day = new Date(t).toISOString().slice(0, 10);
      await setClock(e, fireAt(day));
      fired++;
      await timerRuns(e, fired);
      const id = sweepId(day, deadline);
      const slot = due.find(([d]) => d === day);
      if (!slot) {
        await sweepDone(e, id); // nothing new is due that day: the ledger already has the latest slot
        continue;
      }
      const [, offset, at] = slot;
      // The day's sweep waits for 08:00 local: exactly then, and not a minute earlier, it sends.
      await setClock(e, new Date(Date.parse(at) - 60_000).toISOString());
      expect((await instance(e, id)).runtimeStatus).toBe('Running');
      await setClock(e, at);
      await sweepDone(e, id);
      const sent = await e.call('GET', '/api/accounts/cpp-litware/reminders', { token });
      expect(sent.body.items.at(-1)).toMatchObject({ offsetDays: offset, sentAt: at });
    }
    expect(byRecipient(await mail(e))[owner]?.map((s) => /^(\d+) days? left/.exec(s)?.[1])).toEqual(
      ['7', '3', '1'],
    );
  }, 120_000);
});
