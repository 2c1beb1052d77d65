// The D365 checklist after the deadline (R-D365, R-DUE): `overdue` with what was missed, still accepting
// work, and the reminder sweep mails what is left (which steps, which offers), in English and Dutch.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startE2E, type E2E, until } from './support/e2e.js';

let e: E2E;
beforeAll(async () => {
  // The source's deadline (15 October 2019) is long past on the real clock.
  e = await startE2E('d365late', {
    D365_CERTIFICATION_CHECK_SECONDS: '1',
    REMINDER_SCHEDULE: '0 0 0 1 1 *',
    OUTBOX_SCHEDULE: '0 0 0 1 1 *',
  });
}, 60_000);
afterAll(async () => {
  await e?.close();
});

const checklist = async (accountId: string, token: string): Promise<any> =>
  (await e.call('GET', `/api/accounts/${accountId}/d365`, { token })).body;

describe('after the deadline', () => {
  it('is overdue, says what was missed, and still accepts work', async () => {
    const token = await e.token('olivia.owner@contoso.com');
    expect((await e.call('POST', '/api/accounts/cpp-contoso/d365', { token })).status).toBe(202);
    const c = await until('the steps', async () => {
      const x = await checklist('cpp-contoso', token);
      return x.steps.length === 4 ? x : undefined;
    });
    expect(c.status).toBe('overdue');
    expect(c.daysLeft).toBeLessThan(0);
    expect(c.missed).toEqual([
      'step isv-addendum',
      'offer contoso-offer-3 (ready-to-submit)',
      'offer contoso-offer-4 (needs-appsource-offer)',
    ]);
    // The door does not close: the attestation is taken and the offers move on.
    const attest = await e.call('POST', '/api/accounts/cpp-contoso/d365/attest', {
      token,
      body: { step: 'isv-addendum' },
    });
    expect(attest.status).toBe(202);
    const later = await until('offers in certification or beyond', async () => {
      const x = await checklist('cpp-contoso', token);
      return x.offers.every(
        (o: any) => o.state !== 'ready-to-submit' && o.state !== 'needs-appsource-offer',
      )
        ? x
        : undefined;
    });
    expect(later.status).toBe('overdue');
    expect(later.missed).not.toContain('step isv-addendum');
  }, 60_000);

  it('the reminder sweep mails which steps and offers are left (English and Dutch)', async () => {
    const tom = await e.token('tom@tailspintoys.com');
    expect((await e.call('POST', '/api/accounts/cpp-tailspin/d365', { token: tom })).status).toBe(
      202,
    );
    await until('the tailspin checklist', async () => {
      const x = await checklist('cpp-tailspin', tom);
      return x.steps.length === 4 ? x : undefined;
    });
    const admin = await e.token('admin@example.com', { roles: ['Migration.Admin'] });
    const run = await e.call('POST', '/api/admin/reminders/run', { token: admin });
    expect(run.status).toBe(202);
    const mails = await until('the D365 reminders', async () => {
      const items = (
        (await (await fetch(`${e.sandbox.url}/dev/mail`)).json()) as {
          items: { to: string[]; subject: string; text: string }[];
        }
      ).items.filter((m) => /Dynamics 365/.test(m.subject));
      return items.length >= 3 ? items : undefined;
    });
    const en = mails.find((m) => m.to.includes('olivia.owner@contoso.com'))!;
    expect(en.subject).toMatch(/^Deadline passed: finish the Dynamics 365 checklist of Contoso/);
    expect(en.text).toMatch(/Offers not live yet: .*contoso-offer-3/);
    expect(en.text).toMatch(/contoso-offer-4/);
    expect(en.text).not.toMatch(/contoso-offer-5/);
    const nl = mails.find((m) => m.to.includes('tom@tailspintoys.com'))!;
    expect(nl.subject).toMatch(/^Deadline verstreken: rond de Dynamics 365-checklist van Tailspin/);
    expect(nl.text).toMatch(/Nog te doen: .*aanvaard het Business Applications ISV-addendum/);
    expect(nl.text).toMatch(/vul uw factuurgegevens aan/);
    expect(nl.text).toMatch(/tailspin-offer-2/);
    // Fabrikam has such an offer and never started its checklist: it is reminded too.
    const fabrikam = mails.find((m) => m.to.includes('fabrikam.publisher@outlook.com'))!;
    expect(fabrikam.text).toMatch(/You have not started the Dynamics 365 checklist/);
    // Northwind and Litware have no such offers: no D365 reminder.
    expect(mails.filter((m) => /northwind|litware/.test(m.to.join()))).toEqual([]);
    // The migration's own reminder is a separate subject: both arrive, each once.
    const forTom = (
      (await (await fetch(`${e.sandbox.url}/dev/mail?to=tom@tailspintoys.com`)).json()) as {
        items: { subject: string }[];
      }
    ).items;
    expect(forTom.filter((m) => /Dynamics 365/.test(m.subject))).toHaveLength(1);
  }, 60_000);
});
