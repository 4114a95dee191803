import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server } from 'node:https';
import helmet from '@fastify/helmet';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type RouteOptions } from 'fastify';
import { BulwarkError } from '../errors.ts';
import type { IdentityContext } from '../identity/context.ts';
import { sessionTokenOf } from '../identity/session-cookie.ts';
import { registerSysRoutes } from '../keys/routes.ts';
import type { SealService } from '../keys/service.ts';
import { handleError, toErrorBody } from './error-mapping.ts';
import { createMetrics } from './metrics.ts';
import type { RouteAccess } from './route-access.ts';
import './route-access.ts';

export interface AppOptions {
  tls: { key: string; cert: string };
  seal: SealService;
  logger: FastifyBaseLogger;
  metricsEnabled: boolean;
  allowRemoteInit: boolean;
  /** The identity services; throws `sealed` while sealed. */
  identity: () => IdentityContext;
  /** Domain routes, registered after the sys routes (each declares its access). */
  routes?: ((app: App) => void)[];
  /** Called after a successful init; its result is merged into the init answer. */
  afterInit?: () => Promise<Record<string, unknown>>;
  /** Called after a successful rekey (the audit record). */
  afterRekey?: () => Promise<void>;
}

export type App = FastifyInstance<Server, IncomingMessage, ServerResponse, FastifyBaseLogger>;

const knownAccess = new Set<RouteAccess>([
  'anonymous',
  'operator',
  'authenticated',
  'admin',
  'admin-or-operator',
  'authenticated-or-operator',
]);
const operatorMayUse = new Set<RouteAccess>(['admin-or-operator', 'authenticated-or-operator']);

export interface RegisteredRoute {
  method: string;
  url: string;
  access: RouteAccess;
  availableWhileSealed: boolean;
}

const routeTables = new WeakMap<object, RegisteredRoute[]>();

/** Every route the app registered (HEAD included), for the route-walking tests. */
export function registeredRoutes(app: App): readonly RegisteredRoute[] {
  return routeTables.get(app) ?? [];
}

/**
 * Assembles the HTTPS app. TLS 1.3 only: older protocol versions are refused
 * in the handshake, before any HTTP is read.
 */
export async function buildApp(opts: AppOptions): Promise<App> {
  const app = Fastify({
    loggerInstance: opts.logger,
    https: {
      key: opts.tls.key,
      cert: opts.tls.cert,
      minVersion: 'TLSv1.3',
      maxVersion: 'TLSv1.3',
    },
    bodyLimit: 1024 * 1024,
    trustProxy: false,
    return503OnClosing: true,
  });
  const metrics = createMetrics(() => opts.seal.state);

  const table: RegisteredRoute[] = [];
  routeTables.set(app, table);
  app.addHook('onRoute', requireAccessDeclaration(table));

  await app.register(helmet, {
    global: true,
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        fontSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
    strictTransportSecurity: { maxAge: 63072000, includeSubDomains: true, preload: false },
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    crossOriginResourcePolicy: { policy: 'same-origin' },
    crossOriginOpenerPolicy: { policy: 'same-origin' },
  });

  app.addHook('onRequest', async (req) => {
    const config = req.routeOptions.config;
    if (opts.seal.state !== 'unsealed' && !config.availableWhileSealed) {
      throw new BulwarkError(opts.seal.state === 'uninitialized' ? 'not_initialized' : 'sealed');
    }
    if (config.access === 'operator' && !operatorAllowed(req.headers.authorization, opts.seal)) {
      throw new BulwarkError(
        'unauthenticated',
        'This needs the operator token (Authorization: Bearer …).',
      );
    }
    const access = config.access;
    if (
      access &&
      operatorMayUse.has(access) &&
      operatorAllowed(req.headers.authorization, opts.seal)
    ) {
      return;
    }
    if (access && access !== 'anonymous' && access !== 'operator') {
      const token = sessionTokenOf(req);
      const identity = opts.identity();
      const actor = token ? await identity.sessions.authenticate(token) : null;
      if (!actor) throw new BulwarkError('unauthenticated', 'Log in first (no valid session).');
      const adminOnly = access === 'admin' || access === 'admin-or-operator';
      if (adminOnly && !actor.isAdmin) throw new BulwarkError('forbidden');
      if (config.stepUp) identity.sessions.requireRecentStepUp(actor);
      req.actor = actor;
    }
  });

  app.addHook('onSend', async (_req, reply, payload) => {
    reply.header('cache-control', 'no-store');
    return payload;
  });

  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    metrics.requests.inc({ route, method: req.method, status: String(reply.statusCode) });
    metrics.duration.observe({ route, method: req.method }, reply.elapsedTime / 1000);
  });

  app.setErrorHandler(handleError);
  app.setNotFoundHandler(async (req, reply) => {
    if (opts.seal.state !== 'unsealed') {
      const code = opts.seal.state === 'uninitialized' ? 'not_initialized' : 'sealed';
      return reply.status(503).send(toErrorBody(code));
    }
    return reply
      .status(404)
      .send(toErrorBody('not_found', `No route ${req.method} ${req.url.split('?')[0]}.`));
  });

  app.decorateRequest('actor', null);
  registerSysRoutes(app, opts.seal, {
    allowRemoteInit: opts.allowRemoteInit,
    ...(opts.afterInit ? { afterInit: opts.afterInit } : {}),
    ...(opts.afterRekey ? { afterRekey: opts.afterRekey } : {}),
  });
  for (const register of opts.routes ?? []) register(app);

  if (opts.metricsEnabled) {
    app.get('/metrics', { config: { access: 'anonymous' } }, async (_req, reply) => {
      reply.header('content-type', metrics.registry.contentType);
      return metrics.registry.metrics();
    });
  }

  return app;
}

/** onRoute hook: a route that does not say who may call it never registers. */
export function requireAccessDeclaration(table: RegisteredRoute[]) {
  return (route: RouteOptions): void => {
    const access = route.config?.access;
    if (!access || !knownAccess.has(access)) {
      throw new Error(`route ${String(route.method)} ${route.url} declares no access rule`);
    }
    for (const method of [route.method].flat()) {
      table.push({
        method,
        url: route.url,
        access,
        availableWhileSealed: route.config?.availableWhileSealed === true,
      });
    }
  };
}

function operatorAllowed(header: string | undefined, seal: SealService): boolean {
  const match = /^Bearer ([A-Za-z0-9_-]{16,128})$/.exec(header ?? '');
  return match?.[1] !== undefined && seal.isOperatorToken(match[1]);
}
