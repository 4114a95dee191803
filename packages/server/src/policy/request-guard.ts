import type { FastifyRequest } from 'fastify';
import { BulwarkError } from '../errors.ts';
import type { IdentityContext } from '../identity/context.ts';
import { sessionTokenOf } from '../identity/session-cookie.ts';
import type { Actor } from '../identity/sessions/service.ts';
import type { SealService } from '../keys/service.ts';
import { type Action, actions, resourceParam } from './actions.ts';
import { type Authorized, authorize } from './authorize.ts';
import { effectivePolicy } from './effective.ts';
import { evaluateSession, type SessionVerdict } from './evaluate.ts';
import { ISSUE_HEADER, resolveIssueLink } from './issue-link.ts';
import { PolicyStore } from './policy-store.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the guard on routes that need a session. */
    actor: Actor | null;
    /** What the choke point resolved: the scope and the actor's relation to it. */
    authz: Authorized | null;
  }
}

/** What the policies know of a session (the guard, and the live-updates re-checks). */
export function sessionFacts(actor: Actor, source: string) {
  return {
    methods: actor.methods,
    passkeyAaguid: actor.passkeyAaguid,
    createdAt: actor.createdAt,
    lastSeenAt: actor.lastSeenAt,
    source,
  };
}

/** Whether a session satisfies its home org's policy (the guard, and `GET /v1/me` to show why not). */
export async function homePolicyVerdict(
  policies: PolicyStore,
  actor: Actor,
  source: string,
  now: Date,
): Promise<SessionVerdict> {
  if (actor.orgId === null) return { ok: true };
  const home = effectivePolicy(await policies.orgPolicy(actor.orgId), null);
  const rules = actor.orgRole === 'guest' ? home.external : home.internal;
  return evaluateSession(rules, sessionFacts(actor, source), now, 'org');
}

/**
 * Runs before every route: authentication, the caller's org policy, step-up,
 * `authorize()`, then the project's effective policy for the caller's
 * audience. A route sees only requests that passed all of them.
 */
export class RequestGuard {
  readonly #seal: SealService;
  readonly #identity: () => IdentityContext;

  constructor(opts: { seal: SealService; identity: () => IdentityContext }) {
    this.#seal = opts.seal;
    this.#identity = opts.identity;
  }

  async check(req: FastifyRequest, action: Action): Promise<void> {
    const spec = actions[action];
    if (this.#seal.state !== 'unsealed' && !spec.availableWhileSealed) {
      throw new BulwarkError(this.#seal.state === 'uninitialized' ? 'not_initialized' : 'sealed');
    }
    if (spec.authn === 'anonymous') return;
    const operator = this.#operatorAllowed(req.headers.authorization);
    if (spec.authn === 'operator') {
      if (!operator) {
        throw new BulwarkError(
          'unauthenticated',
          'This needs the operator token (Authorization: Bearer …).',
        );
      }
      return;
    }
    if (spec.authn === 'user-or-operator' && operator) return;

    const identity = this.#identity();
    const token = sessionTokenOf(req);
    const actor = token ? await identity.sessions.authenticate(token) : null;
    if (!actor) throw new BulwarkError('unauthenticated', 'Log in first (no valid session).');
    const source = req.socket.remoteAddress ?? '';
    const policies = new PolicyStore(identity.storage);
    const session = sessionFacts(actor, source);
    const now = identity.clock.now();

    // The home org's policy governs every request of its people (guests: its rules for externals).
    // Exempt routes (logout, who-am-I, own sessions) still end a session its lifetimes expired.
    const home = await homePolicyVerdict(policies, actor, source, now);
    if (!home.ok && (home.expired || !spec.policyExempt)) await this.#refuse(actor, home);
    if (spec.stepUp) identity.sessions.requireRecentStepUp(actor);

    const param = spec.resource === 'none' ? null : resourceParam[spec.resource];
    const id = param ? ((req.params as Record<string, string | undefined>)[param] ?? null) : null;
    const authorized = await authorize(identity.storage, actor, action, id);

    // A project's effective policy for this caller's audience applies on top of their home org's.
    const { scope, relation } = authorized;
    if (scope.projectId !== null) {
      const { effective } = await policies.effectiveForProject(scope.projectId);
      const internal = relation.orgRole !== null && relation.orgRole !== 'guest';
      const audience = internal ? effective.internal : effective.external;
      const verdict = evaluateSession(audience, session, now, 'project');
      if (!verdict.ok) await this.#refuse(actor, verdict);
      if (spec.projectChange) {
        const header = req.headers[ISSUE_HEADER];
        authorized.issue = await resolveIssueLink(
          identity.storage,
          scope.projectId,
          Array.isArray(header) ? header[0] : header,
        );
        if (authorized.issue === null && effective.issueLinkRequired) {
          throw new BulwarkError('issue_link_required');
        }
      }
    }
    req.actor = actor;
    req.authz = authorized;
  }

  /** Expired by policy lifetimes ends the session; any other failure refuses with the reason. */
  async #refuse(actor: Actor, verdict: { expired: boolean; message: string }): Promise<never> {
    if (verdict.expired) {
      await this.#identity().sessions.revokeSession(actor, 'policy-lifetime');
      throw new BulwarkError('unauthenticated', verdict.message);
    }
    throw new BulwarkError('policy_unsatisfied', verdict.message);
  }

  #operatorAllowed(header: string | undefined): boolean {
    const match = /^Bearer ([A-Za-z0-9_-]{16,128})$/.exec(header ?? '');
    return match?.[1] !== undefined && this.#seal.isOperatorToken(match[1]);
  }
}
