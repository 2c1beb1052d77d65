// Durable conformance: fixture orchestrations through the local host, the real library and Azurite.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { fixture, spawnDevhost, type DevhostProcess } from './support/devhost.js';
import { DurableApi, eventsOf } from './support/durable.js';

const app = fixture('durable-conformance');
let host: DevhostProcess;
let api: DurableApi;
let clocked: DevhostProcess;
let capi: DurableApi;

beforeAll(async () => {
  const env = { AzureWebJobsStorage: inject('storage') };
  [host, clocked] = await Promise.all([
    spawnDevhost(app, {
      env: { ...env, AzureFunctionsJobHost__extensions__durableTask__hubName: 'ConfReal' },
    }),
    spawnDevhost(app, {
      args: ['--port', '0', '--virtual-clock', '2030-01-01T00:00:00Z'],
      env: { ...env, AzureFunctionsJobHost__extensions__durableTask__hubName: 'ConfVirtual' },
    }),
  ]);
  api = new DurableApi(host);
  capi = new DurableApi(clocked);
});
afterAll(async () => {
  await Promise.all([host?.stop(), clocked?.stop()]);
});

describe('activities', () => {
  it('chains three activities', async () => {
    const s = await api.waitFor(await api.start('chain'));
    expect(s.runtimeStatus).toBe('Completed');
    expect(s.output).toEqual(['Hello, Tokyo!', 'Hello, Seattle!', 'Hello, London!']);
    expect(eventsOf(s, 'TaskCompleted').map((e) => e.FunctionName)).toEqual([
      'hello',
      'hello',
      'hello',
    ]);
  });

  it('fans out to 100 activities and in again', async () => {
    const s = await api.waitFor(await api.start('fanOut', undefined, 100));
    expect(s.output).toBe(100 * 101);
    expect(eventsOf(s, 'TaskCompleted')).toHaveLength(100);
  });

  it('retries a failing activity with durable timers until it succeeds', async () => {
    const id = await capi.start('retryThenSuccess', 'retry-ok');
    // Two failures, each followed by a 1 s retry timer on the virtual clock.
    for (let i = 0; i < 2; i++) {
      await new Promise((r) => setTimeout(r, 300));
      await capi.advance('PT1S');
    }
    const s = await capi.waitFor(id);
    expect(s.output).toBe('ok after 3');
    expect(eventsOf(s, 'TaskFailed')).toHaveLength(2);
    expect(eventsOf(s, 'TimerFired')).toHaveLength(2);
    expect(String(eventsOf(s, 'TaskFailed')[0]!.Reason)).toMatch(
      /Activity function 'flaky' failed: flaky attempt 1/,
    );
  });

  it('gives up after the last attempt: caught by the orchestrator, or failing it', async () => {
    const caught = await api.start('retryExhaustedCaught');
    const uncaught = await api.start('retryExhausted');
    const [a, b] = await Promise.all([api.waitFor(caught), api.waitFor(uncaught)]);
    expect(a.runtimeStatus).toBe('Completed');
    expect(a.output).toMatch(/^caught: Activity function 'broken' failed: always broken/);
    expect(eventsOf(a, 'TaskFailed')).toHaveLength(3);
    expect(b.runtimeStatus).toBe('Failed');
    expect(b.output).toMatch(
      /^Orchestrator function 'retryExhausted' failed: .*Activity function 'broken' failed: always broken/s,
    );
  });
});

describe('timers and events under the virtual clock', () => {
  it('fires a timer only once the clock reaches it', async () => {
    const id = await capi.start('timer');
    await new Promise((r) => setTimeout(r, 300));
    expect((await capi.status(id))!.runtimeStatus).toBe('Running');
    await capi.advance('PT2S');
    const s = await capi.waitFor(id);
    expect(s.output).toBe('timer done');
  });

  it('splits a 10-day timer into sub-timers and completes only after 10 days', async () => {
    const id = await capi.start('longTimer');
    for (let day = 0; day < 3; day++) {
      await new Promise((r) => setTimeout(r, 200));
      await capi.advance('P3D');
      expect((await capi.status(id))!.runtimeStatus).toBe('Running');
    }
    await new Promise((r) => setTimeout(r, 200));
    await capi.advance('P1D');
    const s = await capi.waitFor(id);
    expect(s.output).toBe('long timer done');
    expect(eventsOf(s, 'TimerCreated').length).toBeGreaterThanOrEqual(3);
  });

  it('delivers an event raised before the orchestration waits', async () => {
    const id = await api.start('approval');
    expect(await api.raise(id, 'Approval', { by: 'early' })).toBe(202);
    expect((await api.waitFor(id)).output).toEqual({ approved: { by: 'early' } });
  });

  it('delivers an event raised while the orchestration waits', async () => {
    const id = await api.start('approval');
    await api.waitFor(id, new Set(['Running']));
    await new Promise((r) => setTimeout(r, 200));
    expect(await api.raise(id, 'Approval', 'late')).toBe(202);
    expect((await api.waitFor(id)).output).toEqual({ approved: 'late' });
    // A finished instance refuses further events.
    expect(await api.raise(id, 'Approval', 'again')).toBe(410);
  });

  it('waits with a timeout: the event wins and the timer is cancelled', async () => {
    const id = await capi.start('approvalWithTimeout');
    await new Promise((r) => setTimeout(r, 200));
    await capi.raise(id, 'Approval', 7);
    const s = await capi.waitFor(id);
    expect(s.output).toBe('event: 7');
    expect(eventsOf(s, 'TimerFired')).toHaveLength(0);
  });

  it('waits with a timeout: the timer wins', async () => {
    const id = await capi.start('approvalWithTimeout');
    await new Promise((r) => setTimeout(r, 200));
    await capi.advance('PT1H');
    expect((await capi.waitFor(id)).output).toBe('timed out');
  });
});

describe('continueAsNew, sub-orchestrations, status', () => {
  it('counts to 10 with continueAsNew, keeping only the last generation', async () => {
    const s = await api.waitFor(await api.start('countTo10', undefined, 0));
    expect(s.output).toBe(10);
    expect(s.input).toBe(10);
    expect(eventsOf(s, 'ExecutionStarted')).toHaveLength(1);
  });

  it('keeps events that arrive between generations', async () => {
    const id = await api.start('adder', undefined, { total: 0, seen: 0 });
    for (const n of [1, 2, 3]) expect(await api.raise(id, 'Add', n)).toBe(202);
    expect((await api.waitFor(id)).output).toBe(6);
  });

  it('reports a failing sub-orchestration to its parent', async () => {
    const s = await api.waitFor(await api.start('parent', 'parent-1'));
    expect(s.runtimeStatus).toBe('Completed');
    const out = s.output as { ok: string; failed: string };
    expect(out.ok).toBe('Hello, Paris!');
    expect(out.failed).toMatch(/Orchestrator function 'child' failed: .*always broken/s);
    expect((await api.status('parent-1-ok'))!.runtimeStatus).toBe('Completed');
  });

  it('shows the custom status while running', async () => {
    const id = await api.start('status');
    await expect.poll(async () => (await api.status(id))?.customStatus).toEqual({ step: 1 });
    await api.raise(id, 'Next', null);
    await expect.poll(async () => (await api.status(id))?.customStatus).toEqual({ step: 2 });
    await api.raise(id, 'Next', null);
    const s = await api.waitFor(id);
    expect(s.output).toBe('done');
    expect(s.customStatus).toEqual({ step: 2 });
  });

  it('replays newGuid to the same values', async () => {
    const s = await api.waitFor(await api.start('guids', 'guid-instance'));
    const [a, b] = s.output as string[];
    expect(a).toMatch(/^[0-9a-f-]{36}$/);
    expect(a).not.toBe(b);
  });
});

describe('management', () => {
  it('terminates an instance with a reason', async () => {
    const id = await api.start('forever');
    await api.waitFor(id, new Set(['Running']));
    expect(await api.post(id, 'terminate', 'enough')).toBe(202);
    const s = await api.waitFor(id);
    expect(s.runtimeStatus).toBe('Terminated');
    expect(s.output).toBe('enough');
    expect(await api.post(id, 'terminate', 'again')).toBe(410);
    expect(await api.post('no-such-instance', 'terminate')).toBe(404);
  });

  it('suspends and resumes, holding events meanwhile', async () => {
    const id = await api.start('suspendable');
    await api.waitFor(id, new Set(['Running']));
    expect(await api.post(id, 'suspend', 'pause')).toBe(202);
    await api.waitFor(id, new Set(['Suspended']));
    await api.raise(id, 'Go', 'go');
    await new Promise((r) => setTimeout(r, 300));
    expect((await api.status(id))!.runtimeStatus).toBe('Suspended');
    expect(await api.post(id, 'resume', 'carry on')).toBe(202);
    expect((await api.waitFor(id)).output).toBe('resumed with go');
  });

  it('purges an instance', async () => {
    const id = await api.start('chain');
    await api.waitFor(id);
    const res = await fetch(api.url(`instances/${id}`), { method: 'DELETE' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ instancesDeleted: 1 });
    expect(await api.status(id)).toBeUndefined();
    expect((await fetch(api.url(`instances/${id}`), { method: 'DELETE' })).status).toBe(404);
  });

  it('lists instances by status, page by page', async () => {
    for (let i = 0; i < 3; i++) await api.waitFor(await api.start('chain', `list-${i}`));
    const seen: string[] = [];
    let token: string | null = null;
    do {
      const res: Response = await fetch(
        api.url('instances/?runtimeStatus=Completed&instanceIdPrefix=list-&top=2'),
        {
          headers: token ? { 'x-ms-continuation-token': token } : {},
        },
      );
      expect(res.status).toBe(200);
      seen.push(...((await res.json()) as { instanceId: string }[]).map((s) => s.instanceId));
      token = res.headers.get('x-ms-continuation-token');
    } while (token);
    expect(seen.sort()).toEqual(['list-0', 'list-1', 'list-2']);
  });

  it('refuses a second start of a running id and bad input clearly', async () => {
    await api.start('forever', 'twice');
    const res = await fetch(api.url('orchestrators/forever/twice'), { method: 'POST' });
    expect(res.status).toBe(409);
    expect(
      (await fetch(api.url('orchestrators/noSuchOrchestrator'), { method: 'POST' })).status,
    ).toBe(400);
    expect(
      (await fetch(api.url('orchestrators/chain'), { method: 'POST', body: '{not json' })).status,
    ).toBe(400);
    await api.post('twice', 'terminate');
  });
});

describe('entities', () => {
  it('signals over HTTP and reads the state', async () => {
    const res = await fetch(api.url('entities/counter/http-key?op=add'), {
      method: 'POST',
      body: '3',
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(202);
    await expect
      .poll(async () => (await fetch(api.url('entities/counter/http-key'))).status)
      .toBe(200);
    expect(await (await fetch(api.url('entities/counter/http-key'))).json()).toBe(3);
    expect((await fetch(api.url('entities/counter/none'))).status).toBe(404);
  });

  it('is signalled and called by an orchestration', async () => {
    const s = await api.waitFor(await api.start('useCounter', undefined, 'orch-key'));
    expect(s.output).toBe(7);
  });
});

describe('diagnostics and the client', () => {
  it('fails an orchestration whose replay no longer matches its history', async () => {
    const id = await api.start('nondeterministic');
    await api.waitFor(id, new Set(['Running']));
    await new Promise((r) => setTimeout(r, 300));
    await fetch(`${host.url}/api/flip`, { method: 'POST' });
    await api.raise(id, 'Continue', null);
    const s = await api.waitFor(id);
    expect(s.runtimeStatus).toBe('Failed');
    expect(s.output).toMatch(/Non-Deterministic workflow detected/);
    expect(s.output).toMatch(/activity 'stepA'/);
    expect(s.output).toMatch(/activity 'stepB'/);
  });

  it('starts through an app function with a durable client and answers check-status links', async () => {
    const res = await fetch(`${host.url}/api/start/chain/from-client`, { method: 'POST' });
    expect(res.status).toBe(202);
    const body = (await res.json()) as { id: string; statusQueryGetUri: string };
    expect(body.id).toBe('from-client');
    expect(res.headers.get('location')).toBe(body.statusQueryGetUri);
    expect(
      body.statusQueryGetUri.startsWith(
        `${host.url}/runtime/webhooks/durabletask/instances/from-client`,
      ),
    ).toBe(true);
    const s = await api.waitFor('from-client');
    expect(s.output).toEqual(['Hello, Tokyo!', 'Hello, Seattle!', 'Hello, London!']);
    // The status URL works as given, as it would from curl.
    expect((await fetch(body.statusQueryGetUri)).status).toBe(200);
  });
});
