// The replay state's columns on the sentinel row, in the one long-string scheme of every row.
import { decodeLarge, encodeLarge } from './history.js';

/** The engine state JSON as `State`, `State__1`, … and `State__n` (the part count). */
export function stateColumns(text: string): Record<string, unknown> {
  return encodeLarge({ State: text });
}

/** The engine state JSON from the sentinel, whatever number of columns it spans; '' when none. */
export function stateText(sentinel: Record<string, unknown>): string {
  const state = decodeLarge({ State: sentinel.State, ...pick(sentinel) }).State;
  return typeof state === 'string' ? state : '';
}

function pick(sentinel: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(sentinel)) if (k.startsWith('State__')) out[k] = v;
  return out;
}
