import type { FastifyRequest } from 'fastify';
import { BulwarkError } from '../errors.ts';
import type { IdentityContext } from '../identity/context.ts';
import { sessionTokenOf } from '../identity/session-cookie.ts';
import type { Actor } from '../identity/sessions/service.ts';
import type { SealService } from '../keys/service.ts';
import { type Action, actions, resourceParam } from './actions.ts';
import type { Authorized } from './authorize.ts';
import { ISSUE_HEADER, resolveIssueLink } from './issue-link.ts';
import { checkStanding } from './standing.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the guard on routes that need a session. */
    actor: Actor | null;
    /** What the choke point resolved: the scope and the actor's relation to it. */
    authz: Authorized | null;
  }
}

/**
 * Runs before every route: the seal state, authentication, then
 * checkStanding (the caller's org policy, step-up, `authorize()`, the
 * project's effective policy for their audience), and the issue a project
 * change cites. A route sees only requests that passed all of them.
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
    const param = spec.resource === 'none' ? null : resourceParam[spec.resource];
    const id = param ? ((req.params as Record<string, string | undefined>)[param] ?? null) : null;
    const { authorized, effective } = await checkStanding(identity, actor, action, id, source);

    // A change inside a project may cite one of its issues, and must where the policy says so.
    if (spec.projectChange && authorized.scope.projectId !== null) {
      const header = req.headers[ISSUE_HEADER];
      authorized.issue = await resolveIssueLink(
        identity.storage,
        authorized.scope.projectId,
        Array.isArray(header) ? header[0] : header,
      );
      if (authorized.issue === null && effective?.issueLinkRequired) {
        throw new BulwarkError('issue_link_required');
      }
    }
    req.actor = actor;
    req.authz = authorized;
  }

  #operatorAllowed(header: string | undefined): boolean {
    const match = /^Bearer ([A-Za-z0-9_-]{16,128})$/.exec(header ?? '');
    return match?.[1] !== undefined && this.#seal.isOperatorToken(match[1]);
  }
}
