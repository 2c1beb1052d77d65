// Timer triggers under the virtual clock: exact firing, runOnStartup, past-due after a missed run.
import { afterEach, describe, expect, inject, it } from 'vitest';
import { fixture, spawnDevhost, type DevhostProcess } from './support/devhost.js';

interface Fired {
  name: string;
  isPastDue: boolean;
  scheduleStatus: { last: string; next: string; lastUpdated: string } | null;
  schedule: { adjustForDST: boolean };
}

const running: DevhostProcess[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((h) => h.stop()));
});

/** Each test gets its own host id so that stored schedule statuses do not leak between tests. */
async function start(startAt: string, hostId: string): Promise<DevhostProcess> {
  const host = await spawnDevhost(fixture('timer-app'), {
    args: ['--port', '0', '--virtual-clock', startAt],
    env: { AzureWebJobsStorage: inject('storage'), AzureFunctionsWebHost__hostid: hostId },
  });
  running.push(host);
  return host;
}

async function fired(host: DevhostProcess): Promise<Fired[]> {
  return (await (await fetch(`${host.url}/api/fired`)).json()) as Fired[];
}

async function clock(host: DevhostProcess, body: object): Promise<{ now: string; fired: number }> {
  const res = await fetch(`${host.url}/admin/devhost/clock`, {
    method: 'POST',
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as { now: string; fired: number };
}

async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (ok(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('timer triggers under the virtual clock', () => {
  it('runs runOnStartup timers at once and then fires each schedule exactly when due', async () => {
    const host = await start('2030-01-01T10:59:50Z', `t1-${Date.now()}`);
    const first = await until(
      () => fired(host),
      (f) => f.length >= 1,
    );
    expect(first.map((f) => f.name)).toEqual(['startup']);
    expect(first[0]!.isPastDue).toBe(false);

    // 9 s later nothing is due yet.
    await clock(host, { advanceBy: 'PT9S' });
    await new Promise((r) => setTimeout(r, 200));
    expect((await fired(host)).filter((f) => f.name === 'hourly')).toHaveLength(0);

    // One more second: 11:00:00 is due, the %TICK_SCHEDULE% (hourly) timer fires once.
    const moved = await clock(host, { advanceBy: 'PT1S' });
    expect(moved.now).toBe('2030-01-01T11:00:00.000Z');
    const after = await until(
      () => fired(host),
      (f) => f.some((x) => x.name === 'hourly'),
    );
    const hourly = after.filter((f) => f.name === 'hourly');
    expect(hourly).toHaveLength(1);
    expect(hourly[0]!.isPastDue).toBe(false);
    expect(hourly[0]!.schedule.adjustForDST).toBe(true);
    expect(new Date(hourly[0]!.scheduleStatus!.next).toISOString()).toBe(
      '2030-01-01T11:00:00.000Z',
    );
  });

  it('fires a TimeSpan schedule at its interval', async () => {
    const host = await start('2030-02-01T00:00:00Z', `t2-${Date.now()}`);
    await clock(host, { advanceBy: 'PT10M' });
    const f = await until(
      () => fired(host),
      (x) => x.some((y) => y.name === 'interval'),
    );
    const interval = f.filter((x) => x.name === 'interval');
    expect(interval).toHaveLength(1);
    expect(interval[0]!.schedule.adjustForDST).toBe(false);
    await clock(host, { advanceBy: 'PT10M' });
    expect(
      (
        await until(
          () => fired(host),
          (x) => x.filter((y) => y.name === 'interval').length >= 2,
        )
      ).filter((y) => y.name === 'interval'),
    ).toHaveLength(2);
  });

  it('reports isPastDue for a run missed while the host was down', async () => {
    const hostId = `t3-${Date.now()}`;
    const first = await start('2030-03-01T09:30:00Z', hostId);
    await until(
      () => fired(first),
      (f) => f.length >= 1,
    );
    await first.stop();
    running.splice(running.indexOf(first), 1);

    // Restarted two hours later: the 10:00 and 11:00 runs were missed.
    const second = await start('2030-03-01T11:30:00Z', hostId);
    const f = await until(
      () => fired(second),
      (x) => x.some((y) => y.name === 'hourly'),
    );
    const hourly = f.filter((x) => x.name === 'hourly');
    expect(hourly).toHaveLength(1);
    expect(hourly[0]!.isPastDue).toBe(true);
    expect(new Date(hourly[0]!.scheduleStatus!.next).toISOString()).toBe(
      '2030-03-01T10:00:00.000Z',
    );
    // The startup timer ran on start, not past due (its schedule is once a year).
    expect(f.find((x) => x.name === 'startup')?.isPastDue).toBe(false);
  });

  it('runs a timer on demand through the admin API', async () => {
    const host = await start('2030-04-01T00:00:30Z', `t4-${Date.now()}`);
    const res = await fetch(`${host.url}/admin/functions/hourly`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(202);
    const f = await until(
      () => fired(host),
      (x) => x.some((y) => y.name === 'hourly'),
    );
    expect(f.filter((x) => x.name === 'hourly')).toHaveLength(1);
  });

  it('refuses a bad clock move with 400 and leaves the time alone', async () => {
    const host = await start('2030-05-01T00:00:00Z', `t5-${Date.now()}`);
    for (const body of [
      '{"advanceBy":"7 days"}',
      '{"set":"yesterday"}',
      '{"advanceBy":"P1D","set":"2030-01-01T00:00:00Z"}',
      'not json',
    ]) {
      const res = await fetch(`${host.url}/admin/devhost/clock`, { method: 'POST', body });
      expect(res.status).toBe(400);
    }
    const now = (await (await fetch(`${host.url}/admin/devhost/clock`)).json()) as { now: string };
    expect(now.now).toBe('2030-05-01T00:00:00.000Z');
  });
});
