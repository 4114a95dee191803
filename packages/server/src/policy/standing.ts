import { BulwarkError } from '../errors.ts';
import type { IdentityContext } from '../identity/context.ts';
import type { Actor } from '../identity/sessions/service.ts';
import { type Action, actions } from './actions.ts';
import { type Authorized, authorize } from './authorize.ts';
import { effectivePolicy } from './effective.ts';
import { evaluateSession, type SessionVerdict } from './evaluate.ts';
import type { EffectivePolicy } from './policy.ts';
import { PolicyStore } from './policy-store.ts';

/** What the policies know of a session. */
export function sessionFacts(actor: Actor, source: string) {
  return {
    methods: actor.methods,
    passkeyAaguid: actor.passkeyAaguid,
    createdAt: actor.createdAt,
    lastSeenAt: actor.lastSeenAt,
    source,
  };
}

/** Whether a session satisfies its home org's policy (also `GET /v1/me`, to show why not). */
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
 * Everything decided once it is known who is calling, in this order: the
 * home org's policy (its people; guests by its rules for externals), step-up,
 * `authorize()`, then the project's effective policy for the caller's
 * audience on top. The request guard runs it for every request; a
 * connection that outlives its request (the live-updates socket) runs it
 * again before it delivers. One function, so the two can never drift.
 */
export async function checkStanding(
  identity: IdentityContext,
  actor: Actor,
  action: Action,
  resourceId: string | null,
  source: string,
): Promise<{ authorized: Authorized; effective: EffectivePolicy | null }> {
  const spec = actions[action];
  const policies = new PolicyStore(identity.storage);
  const now = identity.clock.now();
  const refuse = async (verdict: { expired: boolean; message: string }): Promise<never> => {
    // Lifetimes set by policy end the session; any other failure refuses with the reason.
    if (verdict.expired) {
      await identity.sessions.revokeSession(actor, 'policy-lifetime');
      throw new BulwarkError('unauthenticated', verdict.message);
    }
    throw new BulwarkError('policy_unsatisfied', verdict.message);
  };

  // Exempt routes (logout, who-am-I, own sessions) still end a session its lifetimes expired.
  const home = await homePolicyVerdict(policies, actor, source, now);
  if (!home.ok && (home.expired || !spec.policyExempt)) await refuse(home);
  if (spec.stepUp) identity.sessions.requireRecentStepUp(actor);

  const authorized = await authorize(identity.storage, actor, action, resourceId);
  const { scope, relation } = authorized;
  if (scope.projectId === null) return { authorized, effective: null };
  const { effective } = await policies.effectiveForProject(scope.projectId);
  const internal = relation.orgRole !== null && relation.orgRole !== 'guest';
  const audience = internal ? effective.internal : effective.external;
  const verdict = evaluateSession(audience, sessionFacts(actor, source), now, 'project');
  if (!verdict.ok) await refuse(verdict);
  return { authorized, effective };
}
