import type { IncomingMessage, ServerResponse } from 'node:http';
import { createSecureServer } from 'node:http2';
import type { Server } from 'node:https';
import helmet from '@fastify/helmet';
import swagger from '@fastify/swagger';
import websocket from '@fastify/websocket';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type RouteOptions } from 'fastify';
import type { Registry } from 'prom-client';
import type { IdentityContext } from '../identity/context.ts';
import { registerSysRoutes } from '../keys/routes.ts';
import type { SealService } from '../keys/service.ts';
import { type Action, actions, isAction, resourceParam } from '../policy/actions.ts';
import { RequestGuard } from '../policy/request-guard.ts';
import { hardFrameBytes } from '../realtime/hub.ts';
import { handleError, toErrorBody } from './error-mapping.ts';
import { createMetrics } from './metrics.ts';
import './route-access.ts';

export interface AppOptions {
  tls: { key: string; cert: string };
  seal: SealService;
  logger: FastifyBaseLogger;
  metricsEnabled: boolean;
  /** The registry /metrics shows; other parts (the DNS resolver) register on it too. */
  metricsRegistry?: Registry;
  /** The server's version, shown in the OpenAPI document. */
  version: string;
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

export interface RegisteredRoute {
  method: string;
  url: string;
  action: Action;
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
    // HTTP/2 with HTTP/1.1 beside it: DNS over HTTPS clients (RFC 8484 §5.2
    // recommends HTTP/2; kdig and most stub resolvers insist) share this port
    // with browsers, and WebSocket upgrades still arrive over HTTP/1.1. Typed
    // as the HTTPS server: Fastify hands HTTP/2 requests to the same handlers
    // through Node's compatibility API.
    serverFactory: (handler) =>
      createSecureServer(
        {
          key: opts.tls.key,
          cert: opts.tls.cert,
          minVersion: 'TLSv1.3',
          maxVersion: 'TLSv1.3',
          allowHTTP1: true,
        },
        handler as never,
      ) as unknown as Server,
    bodyLimit: 1024 * 1024,
    trustProxy: false,
    return503OnClosing: true,
  });
  const metrics = createMetrics(() => opts.seal.state, opts.metricsRegistry);

  const table: RegisteredRoute[] = [];
  routeTables.set(app, table);
  app.addHook('onRoute', requireAccessDeclaration(table));

  // Before any route: the plugin collects routes as they register.
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Bulwark API',
        version: opts.version,
        description:
          'Every operation names its action (x-bulwark-action); policy/actions.ts says who may call it. docs/api.md describes bodies and answers.',
      },
      components: {
        securitySchemes: {
          session: {
            type: 'http',
            scheme: 'bearer',
            description: 'bws_… session token (or the __Host-bulwark_session cookie)',
          },
          operator: {
            type: 'http',
            scheme: 'bearer',
            description: 'the operator token written at init',
          },
        },
      },
    },
  });

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

  // Before the guard's hook: the plugin marks upgrade requests first, so the
  // socket of an upgrade the guard refuses is closed after its HTTP answer.
  await app.register(websocket, {
    options: { maxPayload: hardFrameBytes, perMessageDeflate: false },
  });

  // Encrypted attachments arrive as raw bytes; only routes that raise bodyLimit take big ones.
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_req, body, done) =>
    done(null, body),
  );

  const guard = new RequestGuard({ seal: opts.seal, identity: opts.identity });
  app.addHook('onRequest', async (req) => {
    // Unmatched URLs have no action; the not-found handler answers them.
    const action = req.routeOptions.config.action;
    if (action) await guard.check(req, action);
  });

  app.addHook('onSend', async (_req, reply, payload) => {
    // Answers carry secrets and personal data: not cached, unless a route
    // chose otherwise (the web client's immutable static files).
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
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
  app.decorateRequest('authz', null);
  registerSysRoutes(app, opts.seal, {
    allowRemoteInit: opts.allowRemoteInit,
    ...(opts.afterInit ? { afterInit: opts.afterInit } : {}),
    ...(opts.afterRekey ? { afterRekey: opts.afterRekey } : {}),
  });
  for (const register of opts.routes ?? []) register(app);

  app.get('/v1/openapi.json', { config: { action: 'sys.openapi' } }, async () => app.swagger());

  if (opts.metricsEnabled) {
    app.get('/metrics', { config: { action: 'sys.metrics' } }, async (_req, reply) => {
      reply.header('content-type', metrics.registry.contentType);
      return metrics.registry.metrics();
    });
  }

  return app;
}

/** onRoute hook: a route that does not name a known action never registers. */
export function requireAccessDeclaration(table: RegisteredRoute[]) {
  return (route: RouteOptions): void => {
    const action = route.config?.action;
    if (!isAction(action)) {
      throw new Error(
        `route ${String(route.method)} ${route.url} declares no known action (config.action)`,
      );
    }
    const kind = actions[action].resource;
    if (kind !== 'none' && !route.url.includes(`:${resourceParam[kind]}`)) {
      throw new Error(
        `route ${String(route.method)} ${route.url}: action ${action} acts on a ${kind}, named by :${resourceParam[kind]}`,
      );
    }
    // Documentation only (summary, tags, security): no body schema, so no second validator.
    const spec = actions[action];
    route.schema = {
      ...route.schema,
      summary: spec.summary,
      tags: [action.split('.')[0] ?? action],
      ...(spec.authn === 'anonymous'
        ? {}
        : {
            security:
              spec.authn === 'operator'
                ? [{ operator: [] }]
                : spec.authn === 'user'
                  ? [{ session: [] }]
                  : [{ session: [] }, { operator: [] }],
          }),
    };
    (route.schema as Record<string, unknown>)['x-bulwark-action'] = action;
    for (const method of [route.method].flat()) {
      table.push({
        method,
        url: route.url,
        action,
        availableWhileSealed: actions[action].availableWhileSealed === true,
      });
    }
  };
}
