import { createHash, createHmac } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { SANDBOX_MAIL_KEY, signedWith } from './mail.js';

/** Signs as communication-common's key credential policy does. */
function signed(key: string, method: string, url: URL, body: string): IncomingMessage {
  const date = new Date().toUTCString();
  const hash = createHash('sha256').update(body).digest('base64');
  const toSign = `${method}\n${url.pathname}${url.search}\n${date};${url.host};${hash}`;
  const signature = createHmac('sha256', Buffer.from(key, 'base64'))
    .update(toSign)
    .digest('base64');
  return {
    method,
    headers: {
      host: url.host,
      'x-ms-date': date,
      'x-ms-content-sha256': hash,
      authorization: `HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=${signature}`,
    },
  } as unknown as IncomingMessage;
}

describe('the mail service signature check', () => {
  const url = new URL('http://localhost:7072/emails:send?api-version=2025-09-01');
  const body = '{"subject":"hi"}';

  it('accepts what the client signs with the key, and nothing else', () => {
    expect(
      signedWith(SANDBOX_MAIL_KEY, signed(SANDBOX_MAIL_KEY, 'POST', url, body), url, body),
    ).toBe(true);
    const other = Buffer.from('another key').toString('base64');
    expect(signedWith(SANDBOX_MAIL_KEY, signed(other, 'POST', url, body), url, body)).toBe(false);
    // A body changed after signing, or a request without a signature.
    expect(
      signedWith(SANDBOX_MAIL_KEY, signed(SANDBOX_MAIL_KEY, 'POST', url, body), url, '{}'),
    ).toBe(false);
    expect(
      signedWith(SANDBOX_MAIL_KEY, { method: 'POST', headers: {} } as IncomingMessage, url, body),
    ).toBe(false);
  });
});
