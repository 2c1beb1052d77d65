// The migration as the source means it (issue 8, items 2 to 6): the owner-facing messages, the MPN
// sign-up link, which offers move, and which work e-mail is used, through the app as a portal sees it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startE2E, type E2E } from './support/e2e.js';

let e: E2E;
beforeAll(async () => {
  e = await startE2E('source');
}, 60_000);
afterAll(async () => {
  await e?.close();
});

interface Step {
  name: string;
  state: string;
  detail?: string;
}
const done = (s: { status: string }): boolean =>
  ['completed', 'failed', 'cancelled'].includes(s.status);
const stepOf = (s: { steps: Step[] }, name: string): Step | undefined =>
  s.steps.find((x) => x.name === name);

// The source's "join MPN" link (section "Registreren voor Microsoft Partner Network programma": "kunt u
// hier deel nemen om een MPN-id op te halen"), copied by hand from the source, not from the app.
const SOURCE_JOIN_MPN =
  'https://signup.microsoft.com/signup?sku=StoreForBusinessIW&origin=partnerdashboard&culture=en-us&ru=https://partner.microsoft.com/dashboard/account/v3/xpu/onboard?ru=/dashboard/account/v3/enrollment/companyprofile/basicpartnernetwork/new';

describe('R-MPN-1: the MPN sign-up link', () => {
  it("is the source's join-MPN link, not the commercial-marketplace enrollment", async () => {
    const token = await e.token('nina@northwindtraders.com');
    await e.call('POST', '/api/accounts/cpp-northwind/migration', {
      token,
      body: { workEmail: 'nina@northwindtraders.com' },
    });
    const s = await e.waitForStatus('cpp-northwind', token, (x) => x.status === 'awaiting-mpn');
    expect(s.error.code).toBe('mpn-certificate-invalid');
    expect(s.error.signUpUrl).toBe(SOURCE_JOIN_MPN);
    expect(s.error.message).toContain('Microsoft Partner Network');
    expect(JSON.stringify(s)).not.toContain('enrollment/introduction/partnership');
  });
});

describe('R-TEN-3: the tenant-mismatch message names the right reason', () => {
  it('tells an account without an MPN ID about its own tenant, never about an MPN ID', async () => {
    const token = await e.token('tom@tailspintoys.com');
    await e.call('POST', '/api/accounts/cpp-tailspin/migration', {
      token,
      body: { workEmail: 'tom@contoso.com' },
    });
    try {
      const s = await e.waitForStatus(
        'cpp-tailspin',
        token,
        (x) => x.error?.code === 'tenant-mismatch',
      );
      expect(s.error.expectedTenant).toEqual({
        id: '36f675cc-81e7-4ef5-a8e2-5d940ed90475',
        name: 'Tailspin Toys',
      });
      expect(s.error.message).toContain('Tailspin Toys');
      expect(s.error.message).toContain('Cloud Partner Portal account');
      expect(s.error.message).not.toMatch(/MPN/);
    } finally {
      await e.call('POST', '/api/accounts/cpp-tailspin/migration/cancel', { token });
      await e.waitForStatus('cpp-tailspin', token, done);
    }
  });

  it('names the tenant linked to the MPN ID, and the MPN ID, for an account that has one', async () => {
    const token = await e.token('fabrikam.publisher@outlook.com');
    await e.call('POST', '/api/accounts/cpp-fabrikam-msa/migration', {
      token,
      body: { workEmail: 'someone@contoso.com' },
    });
    try {
      const s = await e.waitForStatus(
        'cpp-fabrikam-msa',
        token,
        (x) => x.error?.code === 'tenant-mismatch',
      );
      expect(s.error.expectedTenant.name).toBe('Fabrikam Inc');
      expect(s.error.message).toContain(
        'Fabrikam Inc, the tenant your MPN ID 2345678 is registered in',
      );
    } finally {
      await e.call('POST', '/api/accounts/cpp-fabrikam-msa/migration/cancel', { token });
      await e.waitForStatus('cpp-fabrikam-msa', token, done);
    }
  });
});

describe('R-TEN-3: an MPN ID in another tenant is fixable in the same migration', () => {
  it('accepts a corrected work e-mail, as the message offers, and completes', async () => {
    const token = await e.token('tom@tailspintoys.com');
    const start = await e.call('POST', '/api/accounts/cpp-tailspin/migration', {
      token,
      body: { workEmail: 'tom@tailspintoys.com' },
    });
    expect(start.body.attempt).toBe(2);
    await e.waitForStatus('cpp-tailspin', token, (x) => x.status === 'awaiting-mpn');
    // Fabrikam's MPN ID, while the work e-mail is in Tailspin Toys.
    await e.call('POST', '/api/accounts/cpp-tailspin/migration/mpn', {
      token,
      body: { mpnId: '2345678' },
    });
    const mismatch = await e.waitForStatus(
      'cpp-tailspin',
      token,
      (x) => x.error?.code === 'mpn-tenant-mismatch',
    );
    expect(mismatch.status).toBe('awaiting-mpn');
    expect(mismatch.error.message).toMatch(
      /work e-mail address in Fabrikam Inc, or another MPN ID/,
    );
    const fixed = await e.call('POST', '/api/accounts/cpp-tailspin/migration/work-email', {
      token,
      body: { workEmail: 'tom@fabrikam.com' },
    });
    expect(fixed.status).toBe(202);
    const s = await e.waitForStatus('cpp-tailspin', token, done);
    expect(s.status).toBe('completed');
    expect(s.attempt).toBe(2);
    expect(s).toMatchObject({
      workEmail: 'tom@fabrikam.com',
      mpnId: '2345678',
      tenant: { name: 'Fabrikam Inc' },
    });
  });
});

describe('R-TEN-1: the work e-mail', () => {
  it("defaults to the owner's CPP sign-in address on a work account", async () => {
    const token = await e.token('olivia.owner@contoso.com');
    const start = await e.call('POST', '/api/accounts/cpp-contoso/migration', { token });
    expect(start.status).toBe(202);
    expect(start.body).toMatchObject({
      status: 'validating-tenant',
      workEmail: 'olivia.owner@contoso.com',
    });
    const s = await e.waitForStatus('cpp-contoso', token, done);
    expect(s.status).toBe('completed');
    expect(s.workEmail).toBe('olivia.owner@contoso.com');
    expect(stepOf(s, 'work-email')?.detail).toMatch(/sign-in address/);
  });

  it('shows which address was refused and why, not the refused one as if it were current', async () => {
    // An msa account signs in with a personal address: no default, it waits for a work e-mail.
    const token = await e.token('fabrikam.publisher@outlook.com');
    const start = await e.call('POST', '/api/accounts/cpp-fabrikam-msa/migration', { token });
    expect(start.body).toMatchObject({ attempt: 2, status: 'awaiting-work-email' });
    expect(start.body.workEmail).toBeUndefined();
    await e.waitForStatus('cpp-fabrikam-msa', token, (x) => x.status === 'awaiting-work-email');
    await e.call('POST', '/api/accounts/cpp-fabrikam-msa/migration/work-email', {
      token,
      body: { workEmail: 'me@outlook.com' },
    });
    const s = await e.waitForStatus(
      'cpp-fabrikam-msa',
      token,
      (x) => x.error?.code === 'personal-email-not-allowed',
    );
    expect(s.status).toBe('awaiting-work-email');
    expect(s.workEmail).toBeUndefined();
    expect(s.error.rejectedWorkEmail).toBe('me@outlook.com');
    expect(s.error.message).toContain('me@outlook.com');
    expect(s.error.message).toContain('Fabrikam Inc');
  });
});

describe('R-COPY-1: only active offers move', () => {
  it('leaves the drafts in CPP, says how many and why, and verifies against what should move', async () => {
    const token = await e.token('lara@litware.com');
    const preflight = await e.call('POST', '/api/accounts/cpp-litware/preflight', {
      token,
      body: { workEmail: 'lara@litware.com' },
    });
    expect(preflight.body.wouldCopy.offers).toBe(270);
    await e.call('POST', '/api/accounts/cpp-litware/migration', {
      token,
      body: { workEmail: 'lara@litware.com' },
    });
    const s = await e.waitForStatus('cpp-litware', token, done, 60_000);
    expect(s.status).toBe('completed');
    expect(stepOf(s, 'copy:offers')?.detail).toBe(
      '270 copied; 30 left in CPP (30 draft): only active offers move to Partner Center',
    );
    expect(stepOf(s, 'verify')?.state).toBe('done');
    const offers = (await (
      await fetch(`${e.sandbox.url}/v1/accounts/cpp-litware/offers`)
    ).json()) as { items: { status: string }[] };
    expect(offers.items).toHaveLength(270);
    expect(offers.items.every((o) => o.status === 'live')).toBe(true);
    const audit = await e.call('GET', '/api/accounts/cpp-litware/migration/audit', { token });
    expect(
      audit.body.items.find((i: { action: string }) => i.action === 'write:offers').detail,
    ).toMatch(/^270 written to Partner Center; 30 left in CPP/);
  }, 90_000);
});
