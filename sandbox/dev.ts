// The sandbox's own controls under /dev/: tokens and their keys, faults, counters, the mail sink, reset.
import type { IncomingMessage } from 'node:http';
import { faultSchema, type Faults } from './faults.js';
import { readJson, type Reply } from './http.js';
import type { createIngestionService } from './ingestion.js';
import type { createMailService } from './mail.js';
import type { Route } from './routes.js';
import type { SandboxState } from './state.js';
import { tokenRequestSchema, type TokenIssuer } from './tokens.js';
import { z } from 'zod';

/** `POST /dev/billing`: an MPN ID's billing profile, named by the ID or by a CPP account that has one. */
const billingSchema = z.union([
  z.strictObject({ mpnId: z.string().regex(/^\d{6,10}$/), complete: z.boolean() }),
  z.strictObject({ accountId: z.string().min(1), complete: z.boolean() }),
]);

export interface DevDeps {
  state: SandboxState;
  faults: Faults;
  tokens: TokenIssuer;
  mail: ReturnType<typeof createMailService>;
  ingestion: ReturnType<typeof createIngestionService>;
  /** the issuer's base URL, known once the server listens */
  publicUrl: () => string;
}

const invalid = (message: string | undefined): Reply => ({
  status: 400,
  body: { error: 'invalid_request', error_description: message },
});

/** POST /dev/billing: a billing profile's completeness, by MPN ID or by the CPP account that has one. */
async function setBilling(state: SandboxState, req: IncomingMessage): Promise<Reply> {
  const parsed = billingSchema.safeParse(await readJson(req));
  if (!parsed.success)
    return invalid(
      'Expected {"mpnId": "…", "complete": bool} or {"accountId": "…", "complete": bool}.',
    );
  const b = parsed.data;
  const mpnId = 'mpnId' in b ? b.mpnId : state.cpp.get(b.accountId)?.account.mpnId;
  if (!mpnId || !state.world.mpn.some((m) => m.mpnId === mpnId))
    return {
      status: 404,
      body: {
        error: 'not_found',
        error_description:
          'accountId' in b
            ? `No CPP account ${b.accountId} with an MPN ID.`
            : `No MPN ID ${mpnId} in the world.`,
      },
    };
  await state.setBilling(mpnId, b.complete);
  return { status: 200, body: { mpnId, complete: b.complete } };
}

/** The mail sink: what the sandbox's mail service accepted, by recipient; emptied on DELETE. */
function mailSinkRoutes(mail: DevDeps['mail']): Route[] {
  return [
    {
      method: 'GET',
      path: '/dev/mail',
      handle: ({ query }) => {
        const to = query.get('to')?.toLowerCase();
        return {
          status: 200,
          body: { items: to ? mail.sent.filter((m) => m.to.includes(to)) : mail.sent },
        };
      },
    },
    {
      method: 'DELETE',
      path: '/dev/mail',
      handle: () => {
        mail.clear();
        return { status: 204 };
      },
    },
  ];
}

export function devRoutes({ state, faults, tokens, mail, ingestion, publicUrl }: DevDeps): Route[] {
  return [
    {
      method: 'POST',
      path: '/dev/token',
      handle: async ({ req }) => {
        const parsed = tokenRequestSchema.safeParse(await readJson(req));
        if (!parsed.success) return invalid(parsed.error.issues[0]?.message);
        const expiresIn = parsed.data.expiresIn ?? 3600;
        const token = await tokens.mint(parsed.data, publicUrl());
        return {
          status: 200,
          body: { access_token: token, token_type: 'Bearer', expires_in: expiresIn },
        };
      },
    },
    { method: 'GET', path: '/dev/jwks', handle: () => ({ status: 200, body: tokens.jwks() }) },
    { method: 'GET', path: '/dev/faults', handle: () => ({ status: 200, body: faults.list() }) },
    {
      method: 'DELETE',
      path: '/dev/faults',
      handle: () => {
        faults.clear();
        return { status: 204 };
      },
    },
    {
      method: 'POST',
      path: '/dev/faults',
      handle: async ({ req }) => {
        const parsed = faultSchema.safeParse(await readJson(req));
        if (!parsed.success) return invalid(parsed.error.issues[0]?.message);
        return { status: 201, body: { id: faults.add(parsed.data) } };
      },
    },
    {
      method: 'GET',
      path: '/dev/stats',
      handle: () => ({
        status: 200,
        body: { ...state.stats, mail: mail.sent.length, ingestion: ingestion.stats() },
      }),
    },
    ...mailSinkRoutes(mail),
    {
      method: 'POST',
      path: '/dev/billing',
      handle: ({ req }) => setBilling(state, req),
    },
    {
      method: 'GET',
      path: '/dev/calls',
      handle: () => ({ status: 200, body: { calls: state.calls } }),
    },
    {
      method: 'POST',
      path: '/dev/reset',
      handle: async () => {
        await state.reset();
        mail.clear();
        ingestion.reset();
        return { status: 204 };
      },
    },
  ];
}
