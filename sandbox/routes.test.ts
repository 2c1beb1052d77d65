import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { HttpFail } from './http.js';
import { dispatch, type Route } from './routes.js';

const req = (method: string): IncomingMessage => ({ method }) as IncomingMessage;
const url = (path: string): URL => new URL(path, 'http://sandbox');

describe('the route table', () => {
  const routes: Route[] = [
    { method: 'GET', path: '/exact', handle: () => ({ status: 200, body: 'exact' }) },
    {
      method: 'GET',
      path: /^\/items\/([^/]+)(?:\/(x))?$/,
      handle: ({ params, query }) => ({ status: 200, body: [...params, query.get('q')] }),
    },
    { method: 'POST', path: '/exact', handle: () => ({ status: 201 }) },
  ];

  it('answers with the first route whose method and path match, groups as decoded params', async () => {
    expect((await dispatch(routes, req('GET'), url('/exact'))).body).toBe('exact');
    expect((await dispatch(routes, req('POST'), url('/exact'))).status).toBe(201);
    expect((await dispatch(routes, req('GET'), url('/items/a%40b?q=1'))).body).toEqual([
      'a@b',
      '',
      '1',
    ]);
  });

  it('is 404 not-found for anything else, or the reply it is given for that', async () => {
    const miss = await dispatch(routes, req('DELETE'), url('/exact')).catch((e: unknown) => e);
    expect(miss).toBeInstanceOf(HttpFail);
    expect((miss as HttpFail).reply()).toMatchObject({ status: 404, body: { code: 'not-found' } });
    expect(
      await dispatch(routes, req('GET'), url('/nope'), () => ({ status: 404, body: 'x' })),
    ).toEqual({
      status: 404,
      body: 'x',
    });
  });
});
