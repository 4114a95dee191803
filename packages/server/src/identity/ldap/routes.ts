import type { FastifyBaseLogger } from 'fastify';
import { z } from 'zod';
import type { AuditLedger } from '../../audit/ledger/ledger.ts';
import { BulwarkError } from '../../errors.ts';
import type { App } from '../../http/app.ts';
import type { Storage } from '../../storage/storage.ts';
import { auditActor, sourceOf } from '../actor.ts';
import type { IdentityContext } from '../context.ts';
import type { LoginThrottle } from '../login-throttle.ts';
import { setSessionCookie } from '../session-cookie.ts';
import type { AuthMethod } from '../sessions/service.ts';
import { changeWithAudit } from '../transactional.ts';
import type { ResolvedLdapConnector } from './config.ts';
import { LdapConnector, LdapUnavailableError } from './connector.ts';
import { LdapLoginService, type SyncCounts } from './service.ts';

const loginBody = z
  .object({
    connector: z.string().min(1).max(63).optional(),
    username: z.string().min(1).max(256),
    password: z.string().min(1).max(4096),
    session: z.enum(['cookie', 'bearer']).default('cookie'),
  })
  .strict();

type Logger = Pick<FastifyBaseLogger, 'info' | 'warn' | 'error'>;

export interface LdapRouteDeps {
  identity: () => IdentityContext;
  /** The connectors' services by id; throws `sealed` while sealed (like identity()). */
  ldap: () => ReadonlyMap<string, LdapLoginService>;
  throttle: LoginThrottle;
  sessionMaxAgeSeconds: number;
  logger?: Logger;
  audit: () => AuditLedger;
}

/** One service per configured connector, built at unseal with the identity context. */
export function buildLdapServices(opts: {
  storage: Storage;
  identity: IdentityContext;
  connectors: readonly ResolvedLdapConnector[];
  logger?: Logger;
}): Map<string, LdapLoginService> {
  return new Map(
    opts.connectors.map((c) => [
      c.id,
      new LdapLoginService({
        storage: opts.storage,
        connector: new LdapConnector(c),
        clock: opts.identity.clock,
        ...(opts.logger ? { logger: opts.logger } : {}),
      }),
    ]),
  );
}

/**
 * LDAP / AD login: the directory checks the password (we bind as the user),
 * then a session is made with methods ['ldap']. A directory password is a
 * single, phishable factor like a local password; whether LDAP logins must
 * add a second factor (as password logins do) is a policy decision left to
 * the policy issue. Until then an LDAP session is never a fresh step-up.
 */
export function registerLdapRoutes(app: App, deps: LdapRouteDeps): void {
  const pick = (id: string | undefined): LdapLoginService => {
    const services = deps.ldap();
    if (id === undefined) {
      const [only, ...rest] = services.values();
      if (only && rest.length === 0) return only;
      throw new BulwarkError(
        'bad_request',
        services.size === 0 ? 'LDAP login is not configured.' : 'Say which LDAP connector to use.',
      );
    }
    const service = services.get(id);
    if (!service) throw new BulwarkError('not_found', `No LDAP connector "${id}".`);
    return service;
  };

  app.post('/v1/auth/login/ldap', { config: { action: 'auth.login' } }, async (req, reply) => {
    const body = loginBody.parse(req.body);
    const service = pick(body.connector);
    const source = sourceOf(req);
    const account = `ldap:${service.id}:${body.username}`;
    deps.throttle.check(account, source);
    let user: Awaited<ReturnType<LdapLoginService['login']>>;
    try {
      // A first login's account (or the directory's changes) and its ledger entries commit together.
      user = await service.login(body.username, body.password, { ledger: deps.audit(), source });
    } catch (err) {
      if (err instanceof LdapUnavailableError) {
        // The details (host, TLS cause) go to the log, not to anonymous callers.
        deps.logger?.error(
          { connector: service.id, reason: err.reason, err: err.message },
          'ldap login: directory unavailable',
        );
        throw new BulwarkError(
          'directory_unavailable',
          'The directory (LDAP) cannot be reached; try again later or tell your administrator.',
          { connector: service.id, reason: err.reason },
        );
      }
      throw err;
    }
    if (!user) {
      deps.throttle.failure(account, source);
      throw new BulwarkError('login_failed');
    }
    deps.throttle.success(account, source);
    const methods: AuthMethod[] = ['ldap'];
    // The session and its ledger entry commit together.
    const { token, session } = await changeWithAudit(deps.identity(), deps.audit(), async (tx) => {
      const made = await tx.sessions.create(user.id, {
        kind: body.session,
        methods,
        device: req.headers['user-agent'] ?? null,
        stepUp: false,
      });
      await tx.record({
        action: 'session.create',
        actor: { kind: 'user', userId: user.id, source, channel: 'web' },
        target: { type: 'user', id: user.id },
        after: { methods, connector: body.connector ?? null },
      });
      return made;
    });
    if (body.session === 'cookie') {
      setSessionCookie(reply, token, deps.sessionMaxAgeSeconds);
      return { session: { id: session.id, methods } };
    }
    return { token, session: { id: session.id, methods } };
  });

  app.post(
    '/v1/admin/ldap/:connector/sync',
    { config: { action: 'ldap.sync' } },
    async (req): Promise<{ connector: string } & SyncCounts> => {
      const { connector } = z.object({ connector: z.string().min(1).max(63) }).parse(req.params);
      const service = pick(connector);
      // The admin who asked is the actor; the channel says the directory brought the changes.
      const actor = { ...auditActor(req), channel: 'ldap-sync' as const };
      try {
        return { connector: service.id, ...(await service.sync({ ledger: deps.audit(), actor })) };
      } catch (err) {
        if (err instanceof LdapUnavailableError) {
          throw new BulwarkError('directory_unavailable', `${err.message}. Nothing was changed.`, {
            connector: service.id,
            reason: err.reason,
          });
        }
        throw err;
      }
    },
  );
}

export interface LdapSyncSchedule {
  stop(): void;
}

/**
 * Runs each connector's sync every syncIntervalMinutes (0: never) on
 * unref'd timers, one run at a time per connector. `services` returns null
 * while sealed (the tick is skipped). Failures are logged, never thrown.
 * A sync's changes are recorded in the audit ledger (actor: the system,
 * channel `ldap-sync`); without `audit` the ledger fails closed: every
 * tick is refused with an error in the log and nothing changes.
 */
export function startLdapSyncSchedule(opts: {
  connectors: readonly Pick<ResolvedLdapConnector, 'id' | 'syncIntervalMinutes'>[];
  services: () => ReadonlyMap<string, LdapLoginService> | null;
  /** The ledger while unsealed (throws `sealed` otherwise). */
  audit?: () => AuditLedger;
  logger?: Logger;
  /** Overrides the interval (tests). */
  intervalMs?: number;
}): LdapSyncSchedule {
  const timers: NodeJS.Timeout[] = [];
  for (const c of opts.connectors) {
    const every = opts.intervalMs ?? c.syncIntervalMinutes * 60_000;
    if (every <= 0) continue;
    let running = false;
    const timer = setInterval(() => {
      if (running) return;
      let service: LdapLoginService | undefined;
      let ledger: AuditLedger | undefined;
      try {
        service = opts.services()?.get(c.id);
        ledger = opts.audit?.();
      } catch {
        return; // sealed
      }
      if (!service) return;
      if (!ledger) {
        opts.logger?.error(
          { connector: c.id },
          'ldap sync refused: no audit ledger is wired to the schedule, so its changes could not be recorded',
        );
        return;
      }
      running = true;
      service
        .sync({ ledger })
        .then((counts) => opts.logger?.info({ connector: c.id, ...counts }, 'ldap sync done'))
        .catch((err: unknown) =>
          opts.logger?.error(
            { connector: c.id, err: err instanceof Error ? err.message : String(err) },
            'ldap sync failed',
          ),
        )
        .finally(() => {
          running = false;
        });
    }, every);
    timer.unref();
    timers.push(timer);
  }
  return {
    stop: () => {
      for (const t of timers) clearInterval(t);
      timers.length = 0;
    },
  };
}
