// The sandbox: Entra ID discovery, Microsoft Graph, Partner Center, CPP and the mail service on one local
// HTTP server, loaded from a world file, its changes kept in Table storage, with a token issuer and fault
// injection. This module only composes: each service is its own module with its own route list.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { isLoopback, listenOn, LOOPBACK } from '../devhost/http/listen.js';
import { devRoutes } from './dev.js';
import { Faults } from './faults.js';
import { HttpFail, send, type Reply } from './http.js';
import { createIngestionService } from './ingestion.js';
import { createMailService, SANDBOX_MAIL_KEY } from './mail.js';
import { dispatch, type Route } from './routes.js';
import { cppRoutes } from './services/cpp.js';
import { entraRoutes } from './services/entra.js';
import { graphRoutes } from './services/graph.js';
import { partnerCenterRoutes } from './services/partnerCenter.js';
import { SandboxState } from './state.js';
import { tokenIssuer } from './tokens.js';
import type { World } from './world.js';

export { canonical } from './http.js';

export interface SandboxOptions {
  world: World;
  port: number;
  /** where to listen: default `localhost` (127.0.0.1 and ::1); `0.0.0.0` for every interface */
  host?: string;
  /**
   * `/dev/token` and the other `/dev/` controls (not `/dev/jwks`) answer callers on this machine only,
   * unless this is set: they mint tokens for anyone and reset the world.
   */
  allowRemoteDev?: boolean;
  storage: string;
  publicUrl?: string;
  log?: (line: string) => void;
  /** table holding the sandbox's state (tests use their own) */
  table?: string;
  /** the access key of the mail service (base64); the app's ACS connection string must carry it */
  mailKey?: string;
  /** how long the ingestion API's certification takes, in seconds of real time (default 2) */
  certificationSeconds?: number;
}

export interface RunningSandbox {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** The `/dev/` controls: a local-only door, since it mints a token for any e-mail (see allowRemoteDev). */
function answerDev(
  dev: readonly Route[],
  req: IncomingMessage,
  url: URL,
  allowRemote: boolean | undefined,
): Promise<Reply> {
  if (url.pathname !== '/dev/jwks' && !allowRemote && !isLoopback(req.socket.remoteAddress))
    return Promise.resolve({
      status: 403,
      body: {
        error: 'forbidden',
        error_description: 'The /dev/ routes answer local callers only.',
      },
    });
  return dispatch(dev, req, url, () => ({ status: 404, body: { error: 'not_found' } }));
}

/** A request listener sending what `answer` replies; an unexpected error is logged and answered 500. */
function replyWith(
  answer: (req: IncomingMessage, url: URL) => Promise<Reply>,
  log: (line: string) => void,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://sandbox');
    answer(req, url).then(
      (r) => send(res, r),
      (e: unknown) => {
        if (e instanceof HttpFail) return send(res, e.reply());
        log(`Sandbox error on ${req.method} ${url.pathname}: ${(e as Error).message}`);
        send(res, {
          status: 500,
          body: {
            code: 800003,
            description: 'Unexpected sandbox error.',
            data: [],
            source: 'PartnerFD',
          },
        });
      },
    );
  };
}

/** Starts the sandbox; resolves once it listens. */
export async function startSandbox(opts: SandboxOptions): Promise<RunningSandbox> {
  const log = opts.log ?? (() => {});
  const t0 = Date.now();
  const state = new SandboxState(opts.world, opts.storage, opts.table ?? 'Sandbox');
  await state.open();
  log(
    `Sandbox world '${opts.world.name}' ready in ${Date.now() - t0} ms (${state.cpp.size} CPP accounts)`,
  );
  const faults = new Faults();
  const mail = createMailService(opts.mailKey ?? SANDBOX_MAIL_KEY);
  const ingestion = createIngestionService(opts.world, {
    certificationSeconds: opts.certificationSeconds ?? 2,
    table: state.table,
  });
  await ingestion.open();
  const tokens = await tokenIssuer(state);
  let publicUrl = opts.publicUrl ?? '';
  const dev = devRoutes({ state, faults, tokens, mail, ingestion, publicUrl: () => publicUrl });
  const services = [
    ...entraRoutes(opts.world),
    ...graphRoutes(opts.world),
    ...partnerCenterRoutes(state),
    ...cppRoutes(state),
  ];

  async function answer(req: IncomingMessage, url: URL): Promise<Reply> {
    if (url.pathname.startsWith('/dev/')) return answerDev(dev, req, url, opts.allowRemoteDev);
    const calls = state.calls;
    if (calls.length >= 100_000) calls.splice(0, 50_000); // a long-running sandbox stays small
    calls.push(`${req.method ?? 'GET'} ${url.pathname}`);
    const fault = await faults.inject(req.method ?? 'GET', url.pathname);
    if (fault) return fault;
    return (
      (await mail.handle(req, url)) ??
      (await ingestion.handle(req, url)) ??
      (await dispatch(services, req, url))
    );
  }

  const server = createServer(replyWith(answer, log));
  // As the host's front does: a 5 s idle close races with requests a busy sandbox has not read yet.
  server.keepAliveTimeout = 65_000;
  const listening = await listenOn(server, opts.port, opts.host ?? LOOPBACK);
  const port = listening.port;
  publicUrl ||= `http://localhost:${port}`;
  log(
    `Sandbox: /dev/token mints a token for any e-mail: local development only (${opts.allowRemoteDev ? 'open to every caller' : 'callers on this machine only'}); listening on ${listening.addresses.join(', ')}.`,
  );
  return {
    url: `http://localhost:${port}`,
    port,
    close: () => {
      server.closeAllConnections();
      return listening.close();
    },
  };
}
