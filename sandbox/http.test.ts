import { describe, expect, it } from 'vitest';
import { canonical, etagOf, HttpFail, page, pcError } from './http.js';

describe('the sandbox HTTP vocabulary', () => {
  it('writes canonical JSON: keys sorted at every level, undefined left out, arrays in order', () => {
    expect(canonical({ b: 1, a: { d: [2, 1], c: undefined, b: null } })).toBe(
      '{"a":{"b":null,"d":[2,1]},"b":1}',
    );
    expect(etagOf({ x: 1, y: 2 })).toBe(etagOf({ y: 2, x: 1 }));
    expect(etagOf({ x: 1 })).not.toBe(etagOf({ x: 2 }));
  });

  it('pages with an opaque token and caps top at 1000', () => {
    const items = Array.from({ length: 5 }, (_, i) => i);
    const first = page(items, new URLSearchParams('top=2'));
    expect(first.items).toEqual([0, 1]);
    const second = page(
      items,
      new URLSearchParams(`top=2&continuationToken=${first.continuationToken}`),
    );
    expect(second.items).toEqual([2, 3]);
    expect(page(items, new URLSearchParams('top=0')).items).toHaveLength(5); // 0 means the default
    expect(page(items, new URLSearchParams('top=-3')).items).toHaveLength(1);
    expect(page(Array.from({ length: 1500 }), new URLSearchParams('top=5000')).items).toHaveLength(
      1000,
    );
    expect(page(items, new URLSearchParams()).continuationToken).toBeUndefined();
  });

  it("knows an error's reply, in Partner Center's envelope where it is Partner Center's", () => {
    expect(pcError(404, 3000, 'gone').reply()).toEqual({
      status: 404,
      body: { code: 3000, description: 'gone', data: [], source: 'PartnerFD' },
      headers: {},
    });
    expect(new HttpFail(429, {}, { 'retry-after': '2' }).reply().headers).toEqual({
      'retry-after': '2',
    });
  });
});
