// The attempt gate on real Table storage: the first decision written holds, for every racer and retry.
import { describe, expect, inject, it } from 'vitest';
import { TableAttemptGate } from '../lib/store/gate.js';

describe('TableAttemptGate', () => {
  it('lets exactly one of a cancel and a switch-over win, and tells both the same', async () => {
    const gate = new TableAttemptGate(inject('storage'), `Gate${Date.now().toString(36)}`);
    expect(await gate.read('acc', 1)).toBeUndefined();
    const [a, b] = await Promise.all([
      gate.decide('acc', 1, 'cancelled', 'owner@contoso.com'),
      gate.decide('acc', 1, 'switching-over', 'system'),
    ]);
    expect(a).toBe(b);
    expect(await gate.read('acc', 1)).toBe(a);
    // A retry of either side, or a late third party, gets the decision that holds.
    expect(await gate.decide('acc', 1, 'failed', 'system')).toBe(a);
    // Each attempt has its own gate.
    expect(await gate.read('acc', 2)).toBeUndefined();
    expect(await gate.decide('acc', 2, 'switching-over', 'system')).toBe('switching-over');
  });
});
