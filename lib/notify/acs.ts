// The MailSender port's production adapter: Azure Communication Services Email through its own client.
import { EmailClient } from '@azure/communication-email';
import type { Mail, MailSender } from './outbox.js';

export class AcsMailSender implements MailSender {
  readonly #client: EmailClient;

  constructor(
    connectionString: string,
    private readonly senderAddress: string,
  ) {
    // The outbox retries with its own backoff; the client's retries would only hide a failing service.
    // Plain http only ever names a local stand-in (the sandbox); Azure's endpoints are https.
    const insecure = /endpoint=http:\/\//i.test(connectionString);
    this.#client = new EmailClient(connectionString, {
      retryOptions: { maxRetries: 0 },
      ...(insecure ? { allowInsecureConnection: true } : {}),
    });
  }

  async send(mail: Mail, operationId: string): Promise<void> {
    const poller = await this.#client.beginSend(
      {
        senderAddress: this.senderAddress,
        recipients: { to: mail.to.map((address) => ({ address })) },
        content: { subject: mail.subject, plainText: mail.text },
      },
      { operationId, updateIntervalInMs: 250 },
    );
    // Accepted (queued by the service) is what the outbox records; a send the service already refused fails.
    const state = poller.getOperationState();
    if (state.status === 'failed' || state.status === 'canceled')
      throw new Error(`the mail service refused the message (${state.status})`);
  }
}
