// Azure Communication Services Email, as the sandbox serves it: the REST contract the real
// `@azure/communication-email` client speaks (HMAC-signed `POST /emails:send`, `Operation-Id` idempotency,
// the `Operation-Location` poll), and a sink that `GET /dev/mail` lists.
import { createHash, createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { z } from 'zod';

/** The access key the sandbox accepts unless told otherwise (base64; the app's default matches it). */
export const SANDBOX_MAIL_KEY = Buffer.from('local-sandbox-mail-key-not-a-secret').toString(
  'base64',
);

export interface SentMail {
  operationId: string;
  from: string;
  to: string[];
  subject: string;
  text: string;
  html?: string;
  receivedAt: string;
}

interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

const recipients = z.array(z.object({ address: z.email(), displayName: z.string().optional() }));
const messageSchema = z.object({
  senderAddress: z.email(),
  recipients: z.object({
    to: recipients.min(1),
    cc: recipients.optional(),
    bcc: recipients.optional(),
  }),
  content: z.object({
    subject: z.string().min(1),
    plainText: z.string().optional(),
    html: z.string().optional(),
  }),
  headers: z.record(z.string(), z.string()).optional(),
  replyTo: recipients.optional(),
  userEngagementTrackingDisabled: z.boolean().optional(),
});

const acsError = (status: number, code: string, message: string): Reply => ({
  status,
  body: { error: { code, message } },
});

async function rawBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8');
}

/** Checks the HMAC-SHA256 signature the client computes (communication-common's key credential policy). */
export function signedWith(key: string, req: IncomingMessage, url: URL, text: string): boolean {
  const auth = req.headers.authorization ?? '';
  const m = /^HMAC-SHA256 SignedHeaders=([^&]+)&Signature=(.+)$/.exec(auth);
  const date = req.headers['x-ms-date'];
  const hash = req.headers['x-ms-content-sha256'];
  if (!m || typeof date !== 'string' || typeof hash !== 'string') return false;
  if (createHash('sha256').update(text).digest('base64') !== hash) return false;
  const query = url.searchParams.toString();
  const toSign = `${req.method}\n${url.pathname}${query ? `?${query}` : ''}\n${date};${req.headers.host};${hash}`;
  const expected = createHmac('sha256', Buffer.from(key, 'base64')).update(toSign).digest();
  const given = Buffer.from(m[2]!, 'base64');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** A message as the sink keeps it, or the 400 that a malformed body gets. */
function parseMessage(text: string, operationId: string): SentMail | Reply {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return acsError(400, 'BadRequest', 'The request body is not valid JSON.');
  }
  const parsed = messageSchema.safeParse(json);
  if (!parsed.success)
    return acsError(400, 'BadRequest', parsed.error.issues[0]?.message ?? 'Invalid message.');
  const m = parsed.data;
  return {
    operationId,
    from: m.senderAddress,
    to: m.recipients.to.map((r) => r.address.toLowerCase()),
    subject: m.content.subject,
    text: m.content.plainText ?? '',
    ...(m.content.html ? { html: m.content.html } : {}),
    receivedAt: new Date().toISOString(),
  };
}

const DENIED = (): Reply => acsError(401, 'Denied', 'Denied by the HMAC signature check.');

/** The mail service: `handle` answers its routes (undefined for any other path). */
export function createMailService(key: string = SANDBOX_MAIL_KEY): {
  handle(req: IncomingMessage, url: URL): Promise<Reply | undefined>;
  sent: SentMail[];
  clear(): void;
} {
  const sent: SentMail[] = [];
  const operations = new Map<string, SentMail>();

  async function send(req: IncomingMessage, url: URL): Promise<Reply> {
    const text = await rawBody(req);
    if (!signedWith(key, req, url, text)) return DENIED();
    const opHeader = req.headers['operation-id'];
    const operationId = typeof opHeader === 'string' && opHeader ? opHeader : randomUUID();
    const mail = parseMessage(text, operationId);
    if ('status' in mail) return mail;
    // The same Operation-Id twice is the same operation: it is queued once.
    if (!operations.has(operationId)) {
      operations.set(operationId, mail);
      sent.push(mail);
    }
    const apiVersion = url.searchParams.get('api-version') ?? '2025-09-01';
    const base = `http://${req.headers.host ?? 'localhost'}`;
    return {
      status: 202,
      body: { id: operationId, status: 'Running' },
      headers: {
        'operation-location': `${base}/emails/operations/${operationId}?api-version=${apiVersion}`,
        'retry-after': '0',
      },
    };
  }

  function status(req: IncomingMessage, url: URL, id: string): Reply {
    if (!signedWith(key, req, url, '')) return DENIED();
    if (!operations.has(id)) return acsError(404, 'NotFound', `No operation ${id}.`);
    return { status: 200, body: { id, status: 'Succeeded' } };
  }

  return {
    async handle(req, url) {
      const method = req.method ?? 'GET';
      if (url.pathname === '/emails:send' && method === 'POST') return send(req, url);
      const op = /^\/emails\/operations\/([^/]+)$/.exec(url.pathname);
      if (op && method === 'GET') return status(req, url, decodeURIComponent(op[1]!));
      return undefined;
    },
    sent,
    clear() {
      sent.length = 0;
      operations.clear();
    },
  };
}
