import { describe, expect, it } from 'vitest';
import { canonicalJson, categoryHash } from './hash.js';

describe('canonical hashes', () => {
  it('ignores key order and undefined values', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: undefined } })).toBe(
      '{"a":{"d":[1,{"x":1,"y":2}]},"b":1}',
    );
  });
  it('orders users by e-mail (case-insensitively) and offers by id', () => {
    const u1 = [
      { email: 'B@x.com', role: 'owner' },
      { email: 'a@x.com', role: 'developer' },
    ];
    const u2 = [
      { email: 'a@x.com', role: 'developer' },
      { email: 'b@x.com', role: 'owner' },
    ];
    expect(categoryHash('users', u1)).toBe(categoryHash('users', u2));
    expect(categoryHash('offers', [{ id: '2' }, { id: '1' }])).toBe(
      categoryHash('offers', [{ id: '1' }, { id: '2' }]),
    );
    expect(categoryHash('users', u1)).not.toBe(
      categoryHash('users', [{ email: 'a@x.com', role: 'owner' }]),
    );
  });
});
