// The queue extension's pure parts: host.json options, message conversions, queue names, backoff.
import { describe, expect, it } from 'vitest';
import { poisonQueueName, queueNameProblem, resolveSettings } from './index.js';
import { Backoff } from './listener.js';
import {
  decodeBody,
  encodeBody,
  outputMessages,
  triggerInput,
  triggerMetadata,
} from './messages.js';
import { queuesOptions } from './options.js';

describe('extensions.queues options', () => {
  it('has the extension defaults, newBatchThreshold from batchSize and cores', () => {
    expect(queuesOptions(undefined, 4)).toEqual({
      batchSize: 16,
      newBatchThreshold: 32,
      maxPollingIntervalMs: 60_000,
      visibilityTimeoutMs: 0,
      maxDequeueCount: 5,
      messageEncoding: 'base64',
    });
  });

  it('reads TimeSpans, numbers of ms, PascalCase keys and string overrides', () => {
    const o = queuesOptions(
      {
        BatchSize: '8',
        maxPollingInterval: '00:00:02',
        visibilityTimeout: 1500,
        maxDequeueCount: '3',
        messageEncoding: 'None',
      },
      2,
    );
    expect(o).toMatchObject({
      batchSize: 8,
      newBatchThreshold: 8,
      maxPollingIntervalMs: 2000,
      visibilityTimeoutMs: 1500,
      maxDequeueCount: 3,
      messageEncoding: 'none',
    });
  });

  it('refuses values the extension refuses, naming the setting', () => {
    expect(() => queuesOptions({ batchSize: 33 })).toThrow(/extensions\.queues\.batchSize/);
    expect(() => queuesOptions({ maxPollingInterval: '00:00:00.050' })).toThrow(
      /maxPollingInterval: must not be less than 100 ms/,
    );
    expect(() => queuesOptions({ messageEncoding: 'utf8' })).toThrow(/"base64" or "none"/);
    expect(() => queuesOptions({ maxDequeueCount: 0 })).toThrow(/maxDequeueCount/);
  });
});

describe('queue messages', () => {
  it('encodes and decodes bodies per messageEncoding', () => {
    expect(encodeBody('{"a":1}', 'base64')).toBe('eyJhIjoxfQ==');
    expect(encodeBody('{"a":1}', 'none')).toBe('{"a":1}');
    expect(decodeBody('eyJhIjoxfQ==', 'base64')?.toString()).toBe('{"a":1}');
    expect(decodeBody('not base64!', 'base64')).toBeUndefined();
    expect(decodeBody('not base64!', 'none')?.toString()).toBe('not base64!');
  });

  it('hands JSON objects and arrays over as JSON, other text as a string, binary as bytes', () => {
    expect(triggerInput(Buffer.from('{"a":1}'), undefined)).toEqual({ json: '{"a":1}' });
    expect(triggerInput(Buffer.from('[1]'), undefined)).toEqual({ json: '[1]' });
    expect(triggerInput(Buffer.from('{broken'), undefined)).toEqual({ string: '{broken' });
    expect(triggerInput(Buffer.from('42'), undefined)).toEqual({ string: '42' });
    expect(triggerInput(Buffer.from('hi'), 'binary').bytes).toEqual(Buffer.from('hi'));
  });

  it('sends the binding data of QueueTriggerBinding', () => {
    const at = new Date('2030-01-01T00:00:00Z');
    const meta = triggerMetadata(
      {
        messageId: 'id-1',
        popReceipt: 'pr',
        dequeueCount: 2,
        insertedOn: at,
        expiresOn: at,
        nextVisibleOn: at,
      },
      'text',
    );
    expect(Object.keys(meta).sort()).toEqual([
      'DequeueCount',
      'ExpirationTime',
      'Id',
      'InsertionTime',
      'NextVisibleTime',
      'PopReceipt',
      'QueueTrigger',
    ]);
    expect(meta.DequeueCount).toEqual({ json: '2' });
    expect(meta.ExpirationTime).toEqual({ json: '"2030-01-01T00:00:00.000Z"' });
    expect(meta.Id).toEqual({ string: 'id-1' });
  });

  it('turns an output value into messages: arrays element by element, objects as JSON', () => {
    expect(outputMessages({ string: 'hi' })).toEqual(['hi']);
    expect(outputMessages({ int: 5 })).toEqual(['5']);
    expect(outputMessages({ json: '{"a":1}' })).toEqual(['{"a":1}']);
    expect(outputMessages({ json: '[{"a":1},"b",3,null]' })).toEqual(['{"a":1}', 'b', '3']);
    expect(outputMessages({ json: '[]' })).toEqual([]);
    expect(() => outputMessages({ http: {} })).toThrow(/cannot be sent as a queue message/);
  });
});

describe('queue names and settings', () => {
  it('checks names as the extension does and derives the poison queue', () => {
    expect(queueNameProblem('orders')).toBeUndefined();
    expect(queueNameProblem('ab')).toMatch(/3 to 63/);
    expect(queueNameProblem('-ab')).toMatch(/dash/);
    expect(queueNameProblem('a--b')).toMatch(/consecutive/);
    expect(queueNameProblem('a_b')).toMatch(/only lower-case letters/);
    expect(poisonQueueName('orders')).toBe('orders-poison');
    expect(poisonQueueName('orders-poison')).toBeUndefined();
    expect(poisonQueueName('q'.repeat(60))).toBeUndefined();
  });

  it('resolves %Setting% and says which setting is missing', () => {
    expect(resolveSettings('%A%-x', { A: 'in' })).toBe('in-x');
    expect(() => resolveSettings('%NOPE%', {})).toThrow(/'%NOPE%' does not resolve/);
  });
});

describe('polling backoff', () => {
  it('starts at 100 ms, roughly doubles while nothing is found, stops at the maximum, resets on a find', () => {
    const b = new Backoff(100, 1000);
    const delays = Array.from({ length: 8 }, () => b.next(false));
    expect(delays[0]).toBeGreaterThanOrEqual(180);
    expect(delays[0]).toBeLessThanOrEqual(220);
    for (let i = 1; i < delays.length; i++)
      expect(delays[i]).toBeGreaterThanOrEqual(delays[i - 1]!);
    expect(delays.at(-1)).toBe(1000);
    expect(b.next(true)).toBe(100);
  });
});
