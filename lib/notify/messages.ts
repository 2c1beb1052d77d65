// Owner mail, in the account's language (English, Dutch): what is left and by when (R-DUE-3), and the
// personal link after the move (R-COPY-5). Built from status summaries only: never payout data.

export type Language = 'en' | 'nl';

/** What a reminder knows of a subject: its state, kept current in the subject index on every change. */
export interface SubjectSummary {
  /** `not-started`, or a migration status (api.md Status.status). */
  status: string;
  /** The step waiting for the owner or running, when there is one. */
  step?: string;
  /** The owner-fixable error the migration waits on. */
  errorCode?: string;
  /** `d365` for the Dynamics 365 checklist (R-D365); absent for the account migration. */
  kind?: 'migration' | 'd365';
  /** d365: the checklist steps not done yet */
  steps?: string[];
  /** d365: the offers not live yet, with their state */
  offers?: { offerId: string; state: string }[];
}

export interface ReminderFacts {
  language: Language;
  accountId: string;
  displayName: string;
  summary: SubjectSummary;
  /** Local days to the deadline; negative or zero for the overdue notice. */
  daysLeft: number;
  overdue: boolean;
  /** The deadline as the owner reads it, in its zone. */
  deadlineText: string;
  portalUrl: string;
}

export interface MailText {
  subject: string;
  text: string;
}

const WAITING_ON_OWNER: Record<Language, Record<string, string>> = {
  en: {
    'not-started':
      'You have not started the migration yet. Open the banner on your publisher profile and choose "Migrate".',
    'awaiting-work-email': 'The migration is waiting for your work e-mail address.',
    'awaiting-mpn': 'The migration is waiting for your Microsoft Partner Network (MPN) ID.',
    failed: 'The last migration attempt failed. Open the portal to see why and start it again.',
    cancelled:
      'The migration was cancelled. Start it again from the banner on your publisher profile.',
    running: 'The migration is running; nothing is needed from you right now.',
  },
  nl: {
    'not-started':
      'U bent nog niet met de migratie begonnen. Open de banner op uw uitgeversprofiel en kies "Migreren".',
    'awaiting-work-email': 'De migratie wacht op uw zakelijke e-mailadres.',
    'awaiting-mpn': 'De migratie wacht op uw Microsoft Partner Network-id (MPN-id).',
    failed:
      'De laatste migratiepoging is mislukt. Open de portal om te zien waarom en start haar opnieuw.',
    cancelled:
      'De migratie is geannuleerd. Start haar opnieuw via de banner op uw uitgeversprofiel.',
    running: 'De migratie loopt; u hoeft nu niets te doen.',
  },
};

const ERROR_HINTS: Record<Language, Record<string, string>> = {
  en: {
    'personal-email-not-allowed': 'A personal address was refused: give a work e-mail address.',
    'tenant-not-found': 'The domain of the address you gave is not a known work tenant.',
    'tenant-mismatch': 'The address you gave belongs to another tenant than the expected one.',
    'mpn-required': 'Enroll in the Microsoft Partner Network and give the MPN ID.',
    'mpn-not-found': 'The MPN ID you gave does not exist.',
    'mpn-certificate-invalid': 'The MPN certificate is not valid.',
    'mpn-tenant-mismatch': 'The MPN ID is registered in another tenant.',
  },
  nl: {
    'personal-email-not-allowed':
      'Een persoonlijk adres is geweigerd: geef een zakelijk e-mailadres op.',
    'tenant-not-found': 'Het domein van het opgegeven adres is geen bekende zakelijke tenant.',
    'tenant-mismatch': 'Het opgegeven adres hoort bij een andere tenant dan de verwachte.',
    'mpn-required': 'Meld u aan bij het Microsoft Partner Network en geef de MPN-id op.',
    'mpn-not-found': 'De opgegeven MPN-id bestaat niet.',
    'mpn-certificate-invalid': 'Het MPN-certificaat is niet geldig.',
    'mpn-tenant-mismatch': 'De MPN-id is geregistreerd in een andere tenant.',
  },
};

const D365_STEP_TEXT: Record<Language, Record<string, string>> = {
  en: {
    'pmc-migrated': 'move your MPN membership from PMC to Partner Center',
    'marketplace-enrolled': 'enroll in the commercial marketplace program',
    'isv-addendum': 'accept the Business Applications ISV addendum',
    'billing-complete': 'complete your billing information',
  },
  nl: {
    'pmc-migrated': 'verhuis uw MPN-lidmaatschap van PMC naar Partner Center',
    'marketplace-enrolled': 'meld u aan voor het programma van de commerciële marketplace',
    'isv-addendum': 'aanvaard het Business Applications ISV-addendum',
    'billing-complete': 'vul uw factuurgegevens aan',
  },
};
const D365_OFFER_TEXT: Record<Language, Record<string, string>> = {
  en: {
    'needs-appsource-offer': 'an AppSource offer is being created',
    'ready-to-submit': 'not submitted yet',
    'in-certification': 'in certification',
    'certification-failed': 'failed certification: fix it and resubmit',
    'ready-to-go-live': 'approved: choose "Go live"',
    stalled: 'Partner Center could not be reached: choose "Check again"',
  },
  nl: {
    'needs-appsource-offer': 'er wordt een AppSource-aanbieding gemaakt',
    'ready-to-submit': 'nog niet ingediend',
    'in-certification': 'in certificering',
    'certification-failed': 'afgekeurd bij certificering: herstel en dien opnieuw in',
    'ready-to-go-live': 'goedgekeurd: kies "Live gaan"',
    stalled: 'Partner Center was niet bereikbaar: kies "Opnieuw controleren"',
  },
};

/** R-DUE-3 for the D365 checklist: which steps and which offers are left. */
function d365Left(language: Language, summary: SubjectSummary): string {
  if (summary.status === 'not-started')
    return language === 'nl'
      ? 'U bent nog niet begonnen met de Dynamics 365-checklist voor uw Dynamics 365- en PowerApps-aanbiedingen. Open hem in de portal en kies "Starten".'
      : 'You have not started the Dynamics 365 checklist for your Dynamics 365 and PowerApps offers yet. Open it in the portal and choose "Start".';
  const steps = (summary.steps ?? []).map((s) => D365_STEP_TEXT[language][s] ?? s);
  const offers = (summary.offers ?? []).map(
    (o) => `${o.offerId} (${D365_OFFER_TEXT[language][o.state] ?? o.state})`,
  );
  if (language === 'nl')
    return [
      'De Dynamics 365-checklist is nog niet af.',
      steps.length ? `Nog te doen: ${steps.join('; ')}.` : '',
      offers.length ? `Aanbiedingen die nog niet live zijn: ${offers.join(', ')}.` : '',
    ]
      .filter(Boolean)
      .join(' ');
  return [
    'The Dynamics 365 checklist is not finished.',
    steps.length ? `Still to do: ${steps.join('; ')}.` : '',
    offers.length ? `Offers not live yet: ${offers.join(', ')}.` : '',
  ]
    .filter(Boolean)
    .join(' ');
}

/** The one sentence that says what is left for this account. */
export function whatIsLeft(language: Language, summary: SubjectSummary): string {
  if (summary.kind === 'd365') return d365Left(language, summary);
  const texts = WAITING_ON_OWNER[language];
  const main = texts[summary.status] ?? texts.running!;
  const hint = summary.errorCode ? ERROR_HINTS[language][summary.errorCode] : undefined;
  return hint ? `${main} ${hint}` : main;
}

/** A reminder before the deadline, or the one overdue notice after it (R-DUE-2, R-DUE-3). */
export function reminderMail(f: ReminderFacts): MailText {
  const d365 = f.summary.kind === 'd365';
  const link = `${f.portalUrl.replace(/\/$/, '')}/publishers/${encodeURIComponent(f.accountId)}/${d365 ? 'd365' : 'migration'}`;
  const left = whatIsLeft(f.language, f.summary);
  const what = d365
    ? f.language === 'nl'
      ? `rond de Dynamics 365-checklist van ${f.displayName} af`
      : `finish the Dynamics 365 checklist of ${f.displayName}`
    : f.language === 'nl'
      ? `migreer ${f.displayName} naar Partner Center`
      : `migrate ${f.displayName} to Partner Center`;
  if (f.language === 'nl') {
    const when = f.overdue
      ? `De deadline van ${f.deadlineText} is verstreken.`
      : f.daysLeft === 1
        ? `Nog 1 dag tot de deadline van ${f.deadlineText}.`
        : `Nog ${f.daysLeft} dagen tot de deadline van ${f.deadlineText}.`;
    return {
      subject: f.overdue
        ? `Deadline verstreken: ${what}`
        : `Nog ${f.daysLeft} ${f.daysLeft === 1 ? 'dag' : 'dagen'}: ${what}`,
      text: `${when}\n\nAccount ${f.displayName} (${f.accountId}): ${left}\n\nGa verder in de portal: ${link}\n`,
    };
  }
  const when = f.overdue
    ? `The deadline of ${f.deadlineText} has passed.`
    : `${f.daysLeft} ${f.daysLeft === 1 ? 'day' : 'days'} left until the deadline of ${f.deadlineText}.`;
  return {
    subject: f.overdue
      ? `Deadline passed: ${what}`
      : `${f.daysLeft} ${f.daysLeft === 1 ? 'day' : 'days'} left: ${what}`,
    text: `${when}\n\nAccount ${f.displayName} (${f.accountId}): ${left}\n\nContinue in the portal: ${link}\n`,
  };
}

/** R-COPY-5: the personal link to the new Partner Center account, and the dashboard that leads back to it. */
export function migratedMail(
  language: Language,
  accountId: string,
  partnerCenterUrl: string,
  dashboardUrl: string,
): MailText {
  if (language === 'nl')
    return {
      subject: 'Uw account staat nu in Partner Center',
      text: `Uw Cloud Partner Portal-account ${accountId} is verhuisd naar Partner Center. Activeer en beheer het met uw persoonlijke link: ${partnerCenterUrl}. Daarna vindt u het terug via het dashboard van de commerciële marketplace: ${dashboardUrl}\n`,
    };
  return {
    subject: 'Your account now lives in Partner Center',
    text: `Your Cloud Partner Portal account ${accountId} has moved to Partner Center. Activate and manage it with your personal link: ${partnerCenterUrl}. Afterwards you can return to it through the commercial marketplace dashboard: ${dashboardUrl}\n`,
  };
}

const deadlineFormats = new Map<string, Intl.DateTimeFormat>();
/** The deadline as people read it: local date and time with the zone's name. */
export function deadlineText(deadline: string, timeZone: string, language: Language): string {
  const k = `${timeZone}|${language}`;
  let f = deadlineFormats.get(k);
  if (!f) {
    f = new Intl.DateTimeFormat(language === 'nl' ? 'nl-NL' : 'en-US', {
      timeZone,
      dateStyle: 'long',
      timeStyle: 'short',
    });
    deadlineFormats.set(k, f);
  }
  return `${f.format(new Date(deadline))} (${timeZone})`;
}

/** The subject summary of a migration status: its state, the step in play, the error it waits on. */
export function migrationSummary(status: {
  status: string;
  steps: { name: string; state: string }[];
  error?: { code: string } | undefined;
}): SubjectSummary {
  const step =
    status.steps.find((s) => s.state === 'waiting') ??
    status.steps.find((s) => s.state === 'running');
  return {
    status: status.status,
    ...(step ? { step: step.name } : {}),
    ...(status.error ? { errorCode: status.error.code } : {}),
  };
}
