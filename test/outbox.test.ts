// The outbox and the subject index on Azurite: queued once per key even when queued concurrently, drained
// with backoff, a finished subject dropped; the reminder activities over them with an in-memory CPP.
import { inject, describe, expect, it } from 'vitest';
import { createReminderActivities } from '../functions/activities/reminders.js';
import { TableOutbox, type Mail, type MailSender } from '../lib/notify/outbox.js';
import type { CppAccountSummary, CppSource } from '../lib/partners/adapters.js';
import { SHARDS, TableSubjectIndex } from '../lib/store/subjects.js';

const unique = (name: string): string =>
  `${name}${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

class Sink implements MailSender {
  sent: { mail: Mail; operationId: string }[] = [];
  failNext = 0;
  send(mail: Mail, operationId: string): Promise<void> {
    if (this.failNext > 0) {
      this.failNext--;
      return Promise.reject(new Error('503 from the mail service'));
    }
    this.sent.push({ mail, operationId });
    return Promise.resolve();
  }
}

const entry = (id: string) => ({
  id,
  mail: { to: [`${id}@example.com`], subject: `hello ${id}`, text: 'text' },
  ledger: { Subject: 'migration', SentAt: '2019-10-01T15:00:00Z', Summary: `hello ${id}` },
});

describe('the outbox', () => {
  it('queues each key once, even from two sweeps at once, with its ledger row', async () => {
    const sink = new Sink();
    const outbox = new TableOutbox(inject('storage'), sink, unique('Outbox'));
    const ids = Array.from({ length: 120 }, (_, i) => `acc-${String(i).padStart(3, '0')}`);
    const [a, b] = await Promise.all([
      outbox.queue('slot', ids.map(entry)),
      outbox.queue('slot', [...ids].reverse().map(entry)),
    ]);
    expect(a.queued + b.queued).toBe(120);
    expect(a.already + b.already).toBe(120);
    const again = await outbox.queue('slot', ids.slice(0, 10).map(entry));
    expect(again).toEqual({ queued: 0, already: 10 });
    expect(await outbox.ledger('slot', 'acc-007')).toMatchObject({ Summary: 'hello acc-007' });
    const drained = await outbox.drain({ bucket: 'slot' });
    expect(drained).toEqual({ sent: 120, failed: 0, remaining: 0 });
    expect(new Set(sink.sent.map((s) => s.mail.to[0])).size).toBe(120);
    // Everything sent: a second drain finds nothing.
    expect(await outbox.drain()).toEqual({ sent: 0, failed: 0, remaining: 0 });
  });

  it('keeps refused mail pending with backoff, then sends it with the same operation id', async () => {
    const sink = new Sink();
    const outbox = new TableOutbox(inject('storage'), sink, unique('Outbox'));
    await outbox.queue('account~a', [entry('x'), entry('y')]);
    sink.failNext = 1;
    const first = await outbox.drain({ bucket: 'account~a' });
    expect(first).toEqual({ sent: 1, failed: 1, remaining: 1 });
    // Backing off: not retried at once.
    expect(await outbox.drain()).toEqual({ sent: 0, failed: 0, remaining: 1 });
    const failedId = ['x', 'y'].find(
      (id) => !sink.sent.some((s) => s.mail.to[0] === `${id}@example.com`),
    )!;
    await new Promise((r) => setTimeout(r, 5200));
    expect(await outbox.drain()).toEqual({ sent: 1, failed: 0, remaining: 0 });
    expect(sink.sent.map((s) => s.mail.to[0]).sort()).toEqual(['x@example.com', 'y@example.com']);
    expect(sink.sent.find((s) => s.mail.to[0] === `${failedId}@example.com`)?.operationId).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  }, 15_000);
});

describe('the subject index and the reminder activities', () => {
  it('learns unfinished accounts from CPP, sends each a page at a time, and drops finished ones', async () => {
    const storage = inject('storage');
    const subjects = new TableSubjectIndex(storage, unique('Subjects'));
    const sink = new Sink();
    const outbox = new TableOutbox(storage, sink, unique('Outbox'));
    const accounts: CppAccountSummary[] = Array.from({ length: 300 }, (_, i) => ({
      id: `acc-${i}`,
      displayName: `Publisher ${i}`,
      migrated: i % 3 === 0,
      ...(i % 2 ? { language: 'nl' as const } : {}),
      owners: [`owner${i}@example.com`],
      version: i + 1,
    }));
    let listings = 0;
    const cpp = {
      listAccounts(since: number) {
        listings++;
        return Promise.resolve({ items: accounts.filter((a) => a.version > since), version: 300 });
      },
    } as unknown as CppSource;
    const schedule = {
      deadline: '2019-10-15T23:59:59-07:00',
      timeZone: 'America/Los_Angeles',
      offsetsDays: [7],
      localHour: 8,
    };
    const act = createReminderActivities({
      subjects,
      outbox,
      cpp,
      schedule,
      portalUrl: 'https://portal',
    });
    expect(await act.refreshSubjects({})).toEqual({ changed: 300, version: 300 });
    // Nothing changed since: the second refresh reads nothing.
    expect(await act.refreshSubjects({})).toEqual({ changed: 0, version: 300 });
    expect(listings).toBe(2);
    // acc-1 finishes its migration.
    await subjects.record('migration', 'acc-1', { status: 'completed' }, true);
    const slot = { key: 'd7', offsetDays: 7, overdue: false, dueAt: '2019-10-08T15:00:00.000Z' };
    let queued = 0;
    for (let shard = 0; shard < SHARDS; shard++) {
      const r = await act.remindPage({ slot, shard, sweepAt: '2019-10-08T15:00:00.000Z' });
      queued += r.queued;
      expect(r.continuationToken).toBeUndefined();
    }
    expect(queued).toBe(199); // 200 unfinished, one of which finished
    await act.deliverMail({});
    expect(sink.sent).toHaveLength(199);
    const dutch = sink.sent.find((s) => s.mail.to[0] === 'owner5@example.com')!;
    expect(dutch.mail.subject).toBe('Nog 7 dagen: migreer Publisher 5 naar Partner Center');
    expect(dutch.mail.text).toContain('https://portal/publishers/acc-5/migration');
    expect(sink.sent.some((s) => s.mail.to[0] === 'owner1@example.com')).toBe(false);
    // The finished subject's row is gone; the others stay.
    const left = (
      await Promise.all(Array.from({ length: SHARDS }, (_, s) => subjects.page(s)))
    ).flatMap((p) => p.items);
    expect(left).toHaveLength(199);
  });
});
