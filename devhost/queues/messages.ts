// Queue messages to and from the worker's typed data, and their encoding on the wire.
import type { RpcTypedData } from '../rpcTypes.js';

export type MessageEncoding = 'base64' | 'none';

/** What a received message holds, as the trigger sees it. */
export interface ReceivedMessage {
  messageId: string;
  popReceipt: string;
  messageText: string;
  dequeueCount: number;
  insertedOn: Date;
  expiresOn: Date;
  nextVisibleOn: Date;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The message body's bytes, or undefined when base64 is expected and the text is not base64. */
export function decodeBody(text: string, encoding: MessageEncoding): Buffer | undefined {
  if (encoding === 'none') return Buffer.from(text, 'utf8');
  const compact = text.replace(/\s+/g, '');
  return BASE64.test(compact) ? Buffer.from(compact, 'base64') : undefined;
}

/** A message body as the text the queue stores. */
export function encodeBody(body: string | Uint8Array, encoding: MessageEncoding): string {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body);
  return encoding === 'base64' ? bytes.toString('base64') : bytes.toString('utf8');
}

/** True for text that is a JSON object or array (what the host hands over as JSON). */
function isJsonContainer(text: string): boolean {
  const t = text.trim();
  if (!(t.startsWith('{') && t.endsWith('}')) && !(t.startsWith('[') && t.endsWith(']')))
    return false;
  try {
    JSON.parse(t);
    return true;
  } catch {
    return false;
  }
}

/**
 * The trigger's input: bytes for `dataType: 'binary'`, JSON typed data for a JSON object or array,
 * else a string (which the library still JSON-parses when it can, so `"42"` arrives as 42).
 */
export function triggerInput(body: Buffer, dataType: unknown): RpcTypedData {
  if (dataType === 'binary' || dataType === 'stream') return { bytes: body };
  const text = body.toString('utf8');
  return isJsonContainer(text) ? { json: text } : { string: text };
}

const jsonOf = (value: unknown): RpcTypedData => ({ json: JSON.stringify(value) });

/**
 * The trigger metadata the host sends with a queue message (QueueTriggerBinding's binding data):
 * strings as strings, numbers and dates as JSON, as the host's gRPC conversion does.
 */
export function triggerMetadata(
  m: Partial<ReceivedMessage>,
  text: string | undefined,
): Record<string, RpcTypedData> {
  const out: Record<string, RpcTypedData> = {};
  if (text !== undefined) out.QueueTrigger = { string: text };
  out.DequeueCount = jsonOf(m.dequeueCount ?? 0);
  if (m.expiresOn) out.ExpirationTime = jsonOf(m.expiresOn.toISOString());
  if (m.messageId !== undefined) out.Id = { string: m.messageId };
  out.InsertionTime = jsonOf((m.insertedOn ?? new Date()).toISOString());
  if (m.nextVisibleOn) out.NextVisibleTime = jsonOf(m.nextVisibleOn.toISOString());
  if (m.popReceipt !== undefined) out.PopReceipt = { string: m.popReceipt };
  return out;
}

/** One element of an output value as a message body: strings as they are, anything else as JSON. */
function bodyOf(value: unknown): string | Uint8Array | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

/**
 * The messages an output binding's value stands for: an array is one message per element (null
 * elements skipped), bytes go as they are, strings as text, numbers as their text, objects as JSON.
 */
export function outputMessages(data: RpcTypedData): (string | Uint8Array)[] {
  if (data.string !== undefined) return [data.string];
  if (data.bytes !== undefined) return [data.bytes];
  if (data.stream !== undefined) return [data.stream];
  if (data.int !== undefined) return [String(data.int)];
  if (data.double !== undefined) return [String(data.double)];
  if (data.json !== undefined) {
    const value = JSON.parse(data.json) as unknown;
    const items = Array.isArray(value) ? value : [value];
    return items.map(bodyOf).filter((b): b is string | Uint8Array => b !== undefined);
  }
  throw new Error('the value cannot be sent as a queue message (an HTTP response?)');
}
