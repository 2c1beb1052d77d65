import { describe, expect, it } from 'vitest';
import { stateColumns, stateText } from './checkpoint.js';

describe('replay state columns', () => {
  it('reads back a state written across far more than eight columns', () => {
    // 1,000 retrying calls with ~260-character inputs: the state the fan-out writes.
    const open = Object.fromEntries(
      Array.from({ length: 1000 }, (_, i) => [i, { input: 'x'.repeat(260), failures: 0 }]),
    );
    const text = JSON.stringify({ open });
    const columns = stateColumns(text);
    expect(Object.keys(columns).length).toBeGreaterThan(8);
    expect(JSON.parse(stateText(columns))).toEqual({ open });
  });

  it('reads a state written before the part count was stored', () => {
    const text = JSON.stringify({ s: 'y'.repeat(70_000) });
    const legacy = {
      State: text.slice(0, 30_000),
      State__1: text.slice(30_000, 60_000),
      State__2: text.slice(60_000),
    };
    expect(stateText(legacy)).toBe(text);
    expect(stateText({})).toBe('');
  });
});
