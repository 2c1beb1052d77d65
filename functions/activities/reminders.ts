// The reminder sweep's activities (R-DUE-2, R-DUE-3), built over typed ports like the migration's: a page of
// the subject index per call, mail queued with its ledger row in one batch, the outbox drained.
import {
  daysLeft,
  reminderBucketKey,
  type ReminderSchedule,
  type ReminderSlot,
} from '../../lib/domain/reminders.js';
import { deadlineText, reminderMail, type Language } from '../../lib/notify/messages.js';
import type { Outbox, QueueEntry } from '../../lib/notify/outbox.js';
import type { CppSource } from '../../lib/partners/adapters.js';
import type { Subject, SubjectIndex } from '../../lib/store/subjects.js';
import type { ReminderActivities } from '../../orchestrations/names.js';

export interface ReminderDeps {
  subjects: SubjectIndex;
  outbox: Outbox;
  cpp: CppSource;
  schedule: ReminderSchedule;
  portalUrl: string;
  log?: (line: string) => void;
}

type Handlers = {
  [N in keyof ReminderActivities]: (
    input: ReminderActivities[N]['in'],
  ) => Promise<ReminderActivities[N]['out']>;
};

/** The ledger id of a subject in a slot's bucket. */
export const ledgerId = (kind: string, accountId: string): string => `${kind}~${accountId}`;

export function createReminderActivities(d: ReminderDeps): Handlers {
  const log = d.log ?? (() => {});

  /** Owners from the index, or from CPP when the index learnt the subject from a status change alone. */
  async function recipients(
    s: Subject,
  ): Promise<{ owners: string[]; displayName: string; language: Language }> {
    if (s.owners.length)
      return { owners: s.owners, displayName: s.displayName ?? s.accountId, language: s.language };
    const [account, users] = await Promise.all([
      d.cpp.getAccount(s.accountId),
      d.cpp.listUsers(s.accountId),
    ]);
    return {
      owners: users.filter((u) => u.role === 'owner').map((u) => u.email.toLowerCase()),
      displayName: account?.displayName ?? s.accountId,
      language: account?.language ?? s.language,
    };
  }

  function entry(
    s: Subject,
    who: Awaited<ReturnType<typeof recipients>>,
    slot: ReminderSlot,
    sweepAt: Date,
  ): QueueEntry {
    const left = daysLeft(d.schedule, sweepAt);
    const mail = reminderMail({
      language: who.language,
      accountId: s.accountId,
      displayName: who.displayName,
      summary: s.summary,
      daysLeft: slot.overdue ? Math.min(left, 0) : slot.offsetDays,
      overdue: slot.overdue,
      deadlineText: deadlineText(d.schedule.deadline, d.schedule.timeZone, who.language),
      portalUrl: d.portalUrl,
    });
    return {
      id: ledgerId(s.kind, s.accountId),
      mail: { to: who.owners, subject: mail.subject, text: mail.text },
      ledger: {
        Subject: s.kind,
        AccountId: s.accountId,
        Slot: slot.key,
        OffsetDays: slot.offsetDays,
        SentAt: sweepAt.toISOString(),
        Summary: mail.subject,
        State: s.summary.status,
      },
    };
  }

  return {
    // R-DUE-2: the index learns new and changed CPP accounts since the last refresh, never all of them.
    async refreshSubjects() {
      const since = await d.subjects.cursor();
      let token: string | undefined;
      let version = since;
      let seen = 0;
      do {
        const page = await d.cpp.listAccounts(since, token);
        await d.subjects.applyCppAccounts(page.items, since === 0);
        seen += page.items.length;
        version = Math.max(version, page.version);
        token = page.continuationToken;
      } while (token);
      if (version !== since) await d.subjects.setCursor(version);
      if (seen) log(`Subject index: ${seen} CPP account(s) changed since version ${since}`);
      return { changed: seen, version };
    },

    // One page of one shard: every unfinished subject gets the slot's mail, queued at most once (ledger).
    async remindPage({ slot, shard, continuationToken, sweepAt }) {
      const page = await d.subjects.page(shard, continuationToken);
      const finished = page.items.filter((s) => s.done);
      const open = page.items.filter((s) => !s.done);
      const entries = await Promise.all(
        open.map(async (s) => {
          const who = await recipients(s);
          return who.owners.length ? entry(s, who, slot, new Date(sweepAt)) : undefined;
        }),
      );
      const queue = entries.filter((e): e is QueueEntry => e !== undefined);
      const r = await d.outbox.queue(reminderBucketKey(d.schedule.deadline, slot.key), queue);
      if (finished.length) await d.subjects.drop(finished);
      return {
        queued: r.queued,
        already: r.already,
        skipped: open.length - queue.length,
        ...(page.continuationToken ? { continuationToken: page.continuationToken } : {}),
      };
    },

    async deliverMail({ bucket }) {
      return d.outbox.drain(bucket ? { bucket, limit: 2000 } : { limit: 2000 });
    },
  };
}
