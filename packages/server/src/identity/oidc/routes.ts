import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { AuditLedger } from '../../audit/ledger/ledger.ts';
import { BulwarkError } from '../../errors.ts';
import type { App } from '../../http/app.ts';
import type { IdentityContext } from '../context.ts';
import { setSessionCookie } from '../session-cookie.ts';
import type { AuthMethod } from '../sessions/service.ts';
import { changeWithAudit } from '../transactional.ts';
import { OidcLoginError } from './connector.ts';
import { OIDC_LOGIN_TTL_MS, type OidcService } from './service.ts';

/**
 * Binds a login to the browser that started it. SameSite=Lax, not Strict:
 * the callback is a cross-site top-level GET from the provider, and a Strict
 * cookie would not come with it. It holds no authority by itself.
 */
export const OIDC_BINDING_COOKIE = '__Host-bulwark_oidc';

export interface OidcRouteDeps {
  identity: () => IdentityContext;
  /** Throws `sealed` while sealed, like identity(). */
  oidc: () => OidcService;
  audit: () => AuditLedger;
}

const params = z.object({ connector: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/) }).strict();

/**
 * `GET /v1/auth/oidc/:connector/start` sends the browser to the provider;
 * `GET /v1/auth/oidc/:connector/callback` is where it comes back. Both are
 * anonymous; only a fully checked callback makes a session.
 */
export function registerOidcRoutes(app: App, deps: OidcRouteDeps): void {
  app.get(
    '/v1/auth/oidc/:connector/start',
    { config: { action: 'auth.login' } },
    async (req, reply) => {
      const { connector } = parseParams(req);
      try {
        const began = await deps.oidc().beginLogin(connector);
        setBindingCookie(reply, began.browserBinding, Math.floor(OIDC_LOGIN_TTL_MS / 1000));
        return reply.redirect(began.authorizationUrl, 302);
      } catch (err) {
        throw refusal(req, connector, err);
      }
    },
  );

  app.get(
    '/v1/auth/oidc/:connector/callback',
    { config: { action: 'auth.login' } },
    async (req, reply) => {
      const { connector } = parseParams(req);
      let userId: string;
      try {
        const callbackUrl = new URL(req.url, 'https://callback.invalid');
        // A first login's account (or the provider's changes) and its ledger entries commit together.
        const user = await deps.oidc().completeLogin(connector, callbackUrl, bindingOf(req), {
          ledger: deps.audit(),
          source: req.socket.remoteAddress ?? null,
        });
        userId = user.id;
      } catch (err) {
        // A callback with an unknown state spent nothing: keep the binding, so a forged
        // link cannot break a login in progress. Otherwise the binding was used up.
        if (!(err instanceof OidcLoginError && err.reason === 'state_invalid')) {
          setBindingCookie(reply, '', 0);
        }
        throw refusal(req, connector, err);
      }
      setBindingCookie(reply, '', 0);
      const identity = deps.identity();
      const methods: AuthMethod[] = ['oidc'];
      const { token, session } = await changeWithAudit(identity, deps.audit(), async (tx) => {
        const made = await tx.sessions.create(userId, {
          kind: 'cookie',
          methods,
          device: req.headers['user-agent'] ?? null,
          // We cannot see how strongly the provider authenticated: never a fresh step-up.
          stepUp: false,
        });
        await tx.record({
          action: 'session.create',
          actor: {
            kind: 'user',
            userId,
            source: req.socket.remoteAddress ?? null,
            channel: 'oidc',
          },
          target: { type: 'user', id: userId },
          after: { methods, connector },
        });
        return made;
      });
      const maxAge = Math.max(
        0,
        Math.floor((Date.parse(session.absoluteExpiresAt) - identity.clock.now().getTime()) / 1000),
      );
      setSessionCookie(reply, token, maxAge);
      req.log.info({ connector, userId, sessionId: session.id }, 'OIDC login');
      // The session cookie is SameSite=Strict and this redirect ends a cross-site
      // chain, so the browser withholds it here; the web client's own fetch of
      // /v1/me is same-site and opens the app signed in.
      return reply.redirect('/', 302);
    },
  );
}

function parseParams(req: FastifyRequest): { connector: string } {
  const parsed = params.safeParse(req.params);
  if (!parsed.success) throw new BulwarkError('not_found', 'No such identity provider.');
  return parsed.data;
}

/** Logs why (a warning, no token or claim values) and answers login_failed with what to do. */
function refusal(req: FastifyRequest, connector: string, err: unknown): Error {
  if (err instanceof OidcLoginError) {
    if (err.reason === 'unknown_connector') {
      return new BulwarkError('not_found', 'No such identity provider.');
    }
    const cause = err.cause as { code?: unknown; message?: unknown; cause?: unknown } | undefined;
    // openid-client wraps oauth4webapi's precise error one level down; neither holds a token.
    const inner = cause?.cause instanceof Error ? cause.cause.message : undefined;
    req.log.warn(
      {
        connector,
        reason: err.reason,
        ...(cause
          ? {
              cause: {
                code: cause.code,
                message: String(cause.message ?? '').slice(0, 300),
                ...(inner ? { detail: inner.slice(0, 300) } : {}),
              },
            }
          : {}),
      },
      'OIDC login refused',
    );
    return new BulwarkError('login_failed', err.publicMessage, { reason: err.reason });
  }
  return err instanceof Error ? err : new Error(String(err));
}

function setBindingCookie(reply: FastifyReply, value: string, maxAgeSeconds: number): void {
  reply.header(
    'set-cookie',
    `${OIDC_BINDING_COOKIE}=${value}; Path=/; Max-Age=${maxAgeSeconds}; HttpOnly; Secure; SameSite=Lax`,
  );
}

function bindingOf(req: FastifyRequest): string | null {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === OIDC_BINDING_COOKIE) {
      const value = part.slice(eq + 1).trim();
      return /^[A-Za-z0-9_-]{43}$/.test(value) ? value : null;
    }
  }
  return null;
}
