import { describe, expect, it } from 'vitest';
import { whatIsLeft, reminderMail } from '../notify/messages.js';
import { checklistStatus, productTypeOf, type ChecklistRecord } from './d365.js';

const at = '2019-10-01T00:00:00Z';
const record = (
  offerState: 'live' | 'ready-to-go-live',
  billing: 'done' | 'action-required',
): ChecklistRecord => ({
  accountId: 'a',
  createdAt: at,
  updatedAt: at,
  steps: [
    { name: 'pmc-migrated', state: 'done', updatedAt: at },
    { name: 'marketplace-enrolled', state: 'done', updatedAt: at },
    { name: 'isv-addendum', state: 'done', updatedAt: at },
    { name: 'billing-complete', state: billing, updatedAt: at },
  ],
  offers: [
    { offerId: 'o1', name: 'O1', kind: 'powerapps', state: offerState, updatedAt: at },
    {
      offerId: 'bc',
      name: 'BC',
      kind: 'dynamics-365-business-central',
      state: 'excluded',
      updatedAt: at,
    },
  ],
});
const deadline = '2019-10-15T23:59:59-07:00';

describe('the checklist status', () => {
  it('is completed only with every step done and every offer live or excluded', () => {
    expect(checklistStatus(record('live', 'done'), deadline, new Date(at)).status).toBe(
      'completed',
    );
    expect(checklistStatus(record('ready-to-go-live', 'done'), deadline, new Date(at)).status).toBe(
      'in-progress',
    );
    expect(checklistStatus(undefined, deadline, new Date(at)).status).toBe('not-started');
  });
  it('is overdue after the deadline and names what was missed; a finished one is not', () => {
    const late = new Date('2019-10-17T00:00:00Z');
    expect(checklistStatus(record('ready-to-go-live', 'action-required'), deadline, late)).toEqual({
      status: 'overdue',
      missed: ['step billing-complete', 'offer o1 (ready-to-go-live)'],
    });
    expect(checklistStatus(record('live', 'done'), deadline, late).status).toBe('completed');
  });
  it('maps PowerApps and Customer Engagement to one product type, Operations to another', () => {
    expect(productTypeOf('powerapps')).toBe('AzureDynamics365ForCustomerEngagement');
    expect(productTypeOf('dynamics-365-customer-engagement')).toBe(
      'AzureDynamics365ForCustomerEngagement',
    );
    expect(productTypeOf('dynamics-365-operations')).toBe('AzureDynamics365ForOperations');
    expect(productTypeOf('dynamics-365-business-central')).toBeUndefined();
  });
});

describe('a D365 reminder (R-DUE-3)', () => {
  const summary = {
    kind: 'd365' as const,
    status: 'in-progress',
    steps: ['isv-addendum'],
    offers: [{ offerId: 'o1', state: 'ready-to-go-live' }],
  };
  it('says which steps and which offers are left, in English and Dutch', () => {
    expect(whatIsLeft('en', summary)).toBe(
      'The Dynamics 365 checklist is not finished. Still to do: accept the Business Applications ISV addendum. Offers not live yet: o1 (approved: choose "Go live").',
    );
    expect(whatIsLeft('nl', summary)).toMatch(
      /aanvaard het Business Applications ISV-addendum.*o1/,
    );
    const mail = reminderMail({
      language: 'en',
      accountId: 'a',
      displayName: 'A',
      summary,
      daysLeft: 7,
      overdue: false,
      deadlineText: 'October 15',
      portalUrl: 'http://portal',
    });
    expect(mail.subject).toBe('7 days left: finish the Dynamics 365 checklist of A');
    expect(mail.text).toContain('http://portal/publishers/a/d365');
  });
});
