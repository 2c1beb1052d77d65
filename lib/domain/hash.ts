// Content hashes for verification (R-COPY-2): canonical JSON (keys sorted, lists in a fixed order), SHA-256.
import { createHash } from 'node:crypto';

/** JSON with object keys sorted at every level, so equal content gives equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The hash of a category: users sorted by lower-cased email, offers by id, single documents as they are. */
export function categoryHash(category: string, value: unknown): string {
  let v = value;
  if (category === 'users' && Array.isArray(value)) {
    v = [...(value as { email: string }[])]
      .map((u) => ({ ...u, email: u.email.toLowerCase() }))
      .sort((a, b) => (a.email < b.email ? -1 : a.email > b.email ? 1 : 0));
  } else if (category === 'offers' && Array.isArray(value)) {
    v = [...(value as { id: string }[])].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }
  return sha256(canonicalJson(v));
}
