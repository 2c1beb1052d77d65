import { describe, expect, it } from 'vitest';
import { parseRouteTemplate } from './routeTemplate.js';
import { RouteTemplateError } from '../errors.js';

const match = (template: string, path: string): Record<string, string> | null =>
  parseRouteTemplate(template).match(path);

describe('route templates', () => {
  it('matches literals case-insensitively, with or without a trailing slash', () => {
    expect(match('api/items', 'API/Items')).toEqual({});
    expect(match('api/items', 'api/items/')).toEqual({});
    expect(match('api/items', 'api/item')).toBeNull();
    expect(match('api/items', 'api/items/more')).toBeNull();
    expect(match('', '')).toEqual({});
    expect(match('/api/x', 'api/x')).toEqual({});
  });

  it('binds {id}, decodes it, and refuses an empty segment', () => {
    expect(match('api/items/{id}', 'api/items/a%20b')).toEqual({ id: 'a b' });
    expect(match('api/items/{id}', 'api/items/')).toBeNull();
    expect(match('api/items/{id}', 'api/items/%E0%A4%A')).toBeNull();
  });

  it('leaves absent optional parameters out and fills defaults', () => {
    expect(match('api/{a}/{b?}', 'api/1')).toEqual({ a: '1' });
    expect(match('api/{a}/{b?}', 'api/1/2')).toEqual({ a: '1', b: '2' });
    expect(match('api/{a}/{b=5}', 'api/1')).toEqual({ a: '1', b: '5' });
    expect(match('api/{a}/{b=5}', 'api/1/7')).toEqual({ a: '1', b: '7' });
  });

  it('gives catch-alls the rest, slashes included, possibly empty', () => {
    expect(match('files/{*rest}', 'files/a/b%20c/d.txt')).toEqual({ rest: 'a/b c/d.txt' });
    expect(match('files/{**rest}', 'files')).toEqual({});
    expect(match('files/{*rest=index}', 'files')).toEqual({ rest: 'index' });
  });

  it('splits complex segments as ASP.NET does (right-most literal)', () => {
    expect(match('files/{name}.{ext}', 'files/archive.tar.gz')).toEqual({
      name: 'archive.tar',
      ext: 'gz',
    });
    expect(match('files/{name}.{ext?}', 'files/readme')).toEqual({ name: 'readme' });
    expect(match('r/{a}-{b}', 'r/x-y-z')).toEqual({ a: 'x-y', b: 'z' });
    expect(match('r/file{n}', 'r/file12')).toEqual({ n: '12' });
  });

  it.each([
    ['int', '42', '4.2'],
    ['int', '-2147483648', '2147483648'],
    ['long', '9223372036854775807', '9223372036854775808'],
    ['bool', 'TRUE', 'yes'],
    ['datetime', '2019-10-15', 'not-a-date'],
    ['decimal', '3.14', '3.1.4'],
    ['double', '1e5', 'e5'],
    ['float', '-0.5', 'abc'],
    ['guid', '5c2b1d5e-1f3a-4f0e-9a0b-0c1d2e3f4a5b', '5c2b1d5e-1f3a'],
    ['guid', '{5c2b1d5e-1f3a-4f0e-9a0b-0c1d2e3f4a5b}', 'zz2b1d5e1f3a4f0e9a0b0c1d2e3f4a5b'],
    ['alpha', 'abcXYZ', 'abc1'],
    ['minlength(3)', 'abc', 'ab'],
    ['maxlength(3)', 'abc', 'abcd'],
    ['length(2)', 'ab', 'abc'],
    ['length(2,3)', 'abc', 'a'],
    ['min(10)', '10', '9'],
    ['max(10)', '10', '11'],
    ['range(1,5)', '5', '6'],
    ['regex(^\\d{{3}}$)', '123', '12'],
    ['int:min(1)', '1', '0'],
  ])('the %s constraint accepts %s and refuses %s', (constraint, good, bad) => {
    const t = parseRouteTemplate(`x/{v:${constraint}}`);
    expect(t.match(`x/${encodeURIComponent(good)}`)).toEqual({ v: good });
    expect(t.match(`x/${encodeURIComponent(bad)}`)).toBeNull();
  });

  it('combines constraints with optional and default markers', () => {
    expect(match('x/{id:int?}', 'x')).toEqual({});
    expect(match('x/{id:int?}', 'x/7')).toEqual({ id: '7' });
    expect(match('x/{id:int?}', 'x/a')).toBeNull();
    expect(match('x/{id:int=3}', 'x')).toEqual({ id: '3' });
  });

  it.each([
    ['x/{id', /Unbalanced/],
    ['x/id}', /Unbalanced/],
    ['x/{a}/{a}', /appears twice/],
    ['x/{}', /invalid/],
    ['x/{id:nope}', /Unknown route constraint/],
    ['x/{*rest}/y', /catch-all/],
    ['x/{a?}/y', /optional/],
    ['x/{a}{b}', /separated/],
    ['x//y', /empty segment/],
  ])('refuses the template %s', (template, message) => {
    expect(() => parseRouteTemplate(template)).toThrow(RouteTemplateError);
    expect(() => parseRouteTemplate(template)).toThrow(message);
  });
});
