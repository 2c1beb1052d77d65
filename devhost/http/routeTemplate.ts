// ASP.NET Core route templates as the Functions host uses them for HTTP triggers, compiled once per route.
import { RouteTemplateError } from '../errors.js';

export interface RouteTemplate {
  readonly template: string;
  /**
   * `path`: the URL path without its leading '/', still percent-encoded, no query string. Returns the
   * route values (decoded; absent optional parameters left out; defaults filled in), or null.
   */
  match(path: string): Record<string, string> | null;
}

type Constraint = (value: string) => boolean;

interface Param {
  kind: 'param';
  name: string;
  optional: boolean;
  default: string | undefined;
  catchAll: boolean;
  constraints: Constraint[];
}
interface Literal {
  kind: 'literal';
  text: string;
}
type Part = Param | Literal;

interface Segment {
  parts: Part[];
  /** compiled for complex segments (more than one part) */
  regex?: RegExp;
  /** complex segment ending in `<literal>{optional?}`: the pattern without that tail */
  regexWithoutTail?: RegExp;
}

const INT32 = /^-?\d+$/;
const escapeRegex = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function numberArgs(name: string, args: string[], count: number[]): number[] {
  if (!count.includes(args.length) || args.some((a) => !/^-?\d+$/.test(a.trim()))) {
    throw new RouteTemplateError(
      `The constraint "${name}" takes ${count.join(' or ')} whole-number argument(s).`,
    );
  }
  return args.map((a) => Number(a.trim()));
}

function inRange(v: string, min: bigint, max: bigint): boolean {
  if (!INT32.test(v)) return false;
  const n = BigInt(v);
  return n >= min && n <= max;
}

const GUID =
  /^(?:[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\{[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}|\([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\))$/i;
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)$/;
const FLOAT = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$|^[+-]?(infinity|nan)$/i;

/** The default inline constraints of ASP.NET Core routing. */
function constraint(name: string, args: string[] | undefined): Constraint {
  const a = args ?? [];
  switch (name.toLowerCase()) {
    case 'int':
      return (v) => inRange(v, -2147483648n, 2147483647n);
    case 'long':
      return (v) => inRange(v, -9223372036854775808n, 9223372036854775807n);
    case 'bool':
      return (v) => /^(true|false)$/i.test(v);
    case 'datetime':
      return (v) => !Number.isNaN(Date.parse(v));
    case 'decimal':
      return (v) => DECIMAL.test(v);
    case 'double':
    case 'float':
      return (v) => FLOAT.test(v);
    case 'guid':
      return (v) => GUID.test(v);
    case 'alpha':
      return (v) => /^[a-z]*$/i.test(v);
    case 'required':
      return (v) => v.length > 0;
    case 'minlength': {
      const [n] = numberArgs(name, a, [1]);
      return (v) => v.length >= n!;
    }
    case 'maxlength': {
      const [n] = numberArgs(name, a, [1]);
      return (v) => v.length <= n!;
    }
    case 'length': {
      const [min, max] = numberArgs(name, a, [1, 2]);
      return max === undefined
        ? (v) => v.length === min
        : (v) => v.length >= min! && v.length <= max;
    }
    case 'min': {
      const [n] = numberArgs(name, a, [1]);
      return (v) => INT32.test(v) && BigInt(v) >= BigInt(n!);
    }
    case 'max': {
      const [n] = numberArgs(name, a, [1]);
      return (v) => INT32.test(v) && BigInt(v) <= BigInt(n!);
    }
    case 'range': {
      const [min, max] = numberArgs(name, a, [2]);
      return (v) => INT32.test(v) && BigInt(v) >= BigInt(min!) && BigInt(v) <= BigInt(max!);
    }
    case 'regex': {
      if (a.length === 0) throw new RouteTemplateError('The constraint "regex" needs a pattern.');
      let re: RegExp;
      try {
        // ASP.NET anchors the pattern and matches case-insensitively.
        re = new RegExp(`^(?:${a.join(',')})$`, 'i');
      } catch (e) {
        throw new RouteTemplateError(`Invalid regex constraint: ${(e as Error).message}`);
      }
      return (v) => re.test(v);
    }
    default:
      throw new RouteTemplateError(`Unknown route constraint "${name}".`);
  }
}

/** Splits `name:c1:c2(args)` respecting parentheses (regex arguments may contain ':' and ','). */
function splitConstraints(body: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of body) {
    if (ch === '(') depth++;
    if (ch === ')') depth = Math.max(0, depth - 1);
    if (ch === ':' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

function parseParam(raw: string, template: string): Param {
  let body = raw;
  let catchAll = false;
  if (body.startsWith('**')) {
    catchAll = true;
    body = body.slice(2);
  } else if (body.startsWith('*')) {
    catchAll = true;
    body = body.slice(1);
  }
  let optional = false;
  let def: string | undefined;
  const [head = '', ...constraintTexts] = splitConstraints(body);
  let name = head;
  const last = constraintTexts.length ? constraintTexts[constraintTexts.length - 1]! : undefined;
  // `?` and `=default` end the parameter, after its constraints.
  const tailOf = (s: string): [string, string | undefined, boolean] => {
    const eq = s.indexOf('=');
    if (eq >= 0 && !s.slice(0, eq).includes('(')) return [s.slice(0, eq), s.slice(eq + 1), false];
    if (s.endsWith('?') && !s.endsWith('\\?')) return [s.slice(0, -1), undefined, true];
    return [s, undefined, false];
  };
  if (last !== undefined && !/\)$/.test(last)) {
    const [c, d, o] = tailOf(last);
    constraintTexts[constraintTexts.length - 1] = c;
    def = d;
    optional = o;
  } else if (last !== undefined) {
    const m = /^(.*\))(\?|=(.*))$/.exec(last);
    if (m) {
      constraintTexts[constraintTexts.length - 1] = m[1]!;
      optional = m[2] === '?';
      def = m[3];
    }
  } else {
    const [n, d, o] = tailOf(name);
    name = n;
    def = d;
    optional = o;
  }
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
    throw new RouteTemplateError(`The route parameter name "${name}" in "${template}" is invalid.`);
  }
  if (catchAll && def === undefined) optional = true;
  const constraints = constraintTexts.map((c) => {
    const m = /^([A-Za-z]+)(?:\((.*)\))?$/s.exec(c);
    if (!m) throw new RouteTemplateError(`Invalid constraint "${c}" in "${template}".`);
    const args =
      m[2] === undefined ? undefined : m[1]!.toLowerCase() === 'regex' ? [m[2]] : m[2].split(',');
    return constraint(m[1]!, args);
  });
  return {
    kind: 'param',
    name,
    optional: optional || def !== undefined,
    default: def,
    catchAll,
    constraints,
  };
}

/** Splits a segment into literals and `{parameters}`, unescaping `{{` and `}}`. */
function parseSegment(text: string, template: string): Part[] {
  const parts: Part[] = [];
  let literal = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '{' && text[i + 1] === '{') {
      literal += '{';
      i++;
    } else if (ch === '}' && text[i + 1] === '}') {
      literal += '}';
      i++;
    } else if (ch === '{') {
      // Find the closing brace, skipping escaped `}}` inside regex constraints.
      let j = i + 1;
      let body = '';
      for (; j < text.length; j++) {
        if (text[j] === '}' && text[j + 1] === '}') {
          body += '}';
          j++;
        } else if (text[j] === '{' && text[j + 1] === '{') {
          body += '{';
          j++;
        } else if (text[j] === '}') break;
        else body += text[j];
      }
      if (j >= text.length)
        throw new RouteTemplateError(`Unbalanced braces in route "${template}".`);
      if (literal) parts.push({ kind: 'literal', text: literal });
      literal = '';
      if (parts.length && parts[parts.length - 1]!.kind === 'param') {
        throw new RouteTemplateError(
          `Two parameters must be separated by a literal in "${template}".`,
        );
      }
      parts.push(parseParam(body, template));
      i = j;
    } else if (ch === '}') {
      throw new RouteTemplateError(`Unbalanced braces in route "${template}".`);
    } else literal += ch;
  }
  if (literal) parts.push({ kind: 'literal', text: literal });
  return parts;
}

/** Splits on '/' outside braces (a regex constraint may hold a '/'). */
function splitTemplate(t: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (let i = 0; i < t.length; i++) {
    const ch = t[i]!;
    if ((ch === '{' || ch === '}') && t[i + 1] === ch) {
      cur += ch + ch;
      i++;
      continue;
    }
    if (ch === '{') depth++;
    if (ch === '}') depth--;
    if (ch === '/' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

function complexRegex(parts: Part[]): RegExp {
  // Greedy groups in order behave like ASP.NET's right-to-left literal search.
  const src = parts.map((p) => (p.kind === 'literal' ? escapeRegex(p.text) : '(.+)')).join('');
  return new RegExp(`^${src}$`, 'i');
}

function decode(s: string): string | null {
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}

/** One segment of a template, checked: catch-alls last and whole, optional parameters at the end. */
function compileSegment(raw: string, last: boolean, template: string): Segment {
  if (raw === '') throw new RouteTemplateError(`The route "${template}" has an empty segment.`);
  const parts = parseSegment(raw, template);
  const params = parts.filter((p): p is Param => p.kind === 'param');
  for (const p of params) {
    if (p.catchAll && (!last || parts.length > 1)) {
      throw new RouteTemplateError(
        `A catch-all parameter must be the whole last segment of "${template}".`,
      );
    }
    if (p.optional && !p.catchAll && parts.length > 1 && parts[parts.length - 1] !== p) {
      throw new RouteTemplateError(`An optional parameter must end its segment in "${template}".`);
    }
  }
  const seg: Segment = { parts };
  if (parts.length > 1) {
    seg.regex = complexRegex(parts);
    const tail = parts[parts.length - 1]!;
    if (tail.kind === 'param' && tail.optional && parts.length >= 3)
      seg.regexWithoutTail = complexRegex(parts.slice(0, -2));
  }
  return seg;
}

/** Each parameter name once; optional parameters (other than complex tails) followed only by optional ones. */
function checkTemplate(segments: Segment[], template: string): void {
  const names = new Set<string>();
  for (const s of segments) {
    for (const p of s.parts) {
      if (p.kind !== 'param') continue;
      const key = p.name.toLowerCase();
      if (names.has(key))
        throw new RouteTemplateError(
          `The route parameter "${p.name}" appears twice in "${template}".`,
        );
      names.add(key);
    }
  }
  const optionalOnly = (s: Segment): boolean => {
    const p = s.parts[0];
    return s.parts.length === 1 && p?.kind === 'param' && p.optional;
  };
  const first = segments.findIndex(optionalOnly);
  if (first >= 0 && !segments.slice(first + 1).every(optionalOnly))
    throw new RouteTemplateError(`An optional parameter must be at the end of "${template}".`);
}

function accept(p: Param, value: string, out: Record<string, string>): boolean {
  if (!p.constraints.every((c) => c(value))) return false;
  out[p.name] = value;
  return true;
}

/** A complex segment (`{a}.{b?}`): its regex, then without its optional tail. */
function matchComplex(seg: Segment, value: string, out: Record<string, string>): boolean {
  let m = seg.regex!.exec(value);
  let params = seg.parts.filter((p): p is Param => p.kind === 'param');
  let ok = m !== null && params.every((p, k) => accept(p, m![k + 1]!, out));
  if (!ok && seg.regexWithoutTail) {
    m = seg.regexWithoutTail.exec(value);
    params = params.slice(0, -1);
    ok = m !== null && params.every((p, k) => accept(p, m![k + 1]!, out));
    const tail = seg.parts[seg.parts.length - 1] as Param;
    if (ok && tail.default !== undefined) out[tail.name] = tail.default;
  }
  return ok;
}

/** The route values of a path, or null when the template does not match it. */
function matchSegments(segments: Segment[], path: string): Record<string, string> | null {
  const trimmed = path.endsWith('/') ? path.slice(0, -1) : path;
  const raw = trimmed === '' ? [] : trimmed.split('/');
  const out: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i]!;
    const only = seg.parts.length === 1 ? seg.parts[0]! : undefined;
    if (only?.kind === 'param' && only.catchAll) {
      const rest = decode(raw.slice(i).join('/'));
      if (rest === null) return null;
      if (rest === '') {
        if (only.default !== undefined) out[only.name] = only.default;
        return out;
      }
      return accept(only, rest, out) ? out : null;
    }
    const text = raw[i];
    if (text === undefined) {
      // Path ended: the rest of the template must be optional.
      if (only?.kind === 'param' && only.optional) {
        if (only.default !== undefined) out[only.name] = only.default;
        continue;
      }
      return null;
    }
    const value = decode(text);
    if (value === null) return null;
    if (only?.kind === 'literal') {
      if (value.toLowerCase() !== only.text.toLowerCase()) return null;
    } else if (only?.kind === 'param') {
      if (value === '' || !accept(only, value, out)) return null;
    } else if (!matchComplex(seg, value, out)) return null;
  }
  return raw.length > segments.length ? null : out;
}

/** Compiles a route template; throws RouteTemplateError with a one-line reason. */
export function parseRouteTemplate(template: string): RouteTemplate {
  const body = template.replace(/^~?\//, '');
  const rawSegments = body === '' ? [] : splitTemplate(body);
  const segments = rawSegments.map((raw, index) =>
    compileSegment(raw, index === rawSegments.length - 1, template),
  );
  checkTemplate(segments, template);
  return { template, match: (path) => matchSegments(segments, path) };
}
