import { BulwarkError } from '../errors.ts';
import type { IdentityContext } from '../identity/context.ts';
import type { Actor } from '../identity/sessions/service.ts';
import { type Action, actions } from './actions.ts';
import { type Authorized, authorize } from './authorize.ts';
import { evaluateSession } from './evaluate.ts';
import { PolicyStore } from './policy-store.ts';
import { homePolicyVerdict, sessionFacts } from './request-guard.ts';

/**
 * What the request guard checks once it knows who is calling — the home
 * org's policy, step-up, `authorize()`, the project's effective policy for
 * the caller's audience — asked again by a connection that outlives its
 * request (the live-updates socket, before it delivers a project's events).
 * The same steps in the same order as RequestGuard.check: change both together.
 */
export async function checkStanding(
  identity: IdentityContext,
  actor: Actor,
  action: Action,
  resourceId: string | null,
  source: string,
): Promise<Authorized> {
  const spec = actions[action];
  const policies = new PolicyStore(identity.storage);
  const now = identity.clock.now();
  const refuse = async (verdict: { expired: boolean; message: string }): Promise<never> => {
    // Lifetimes set by policy end the session, exactly as on an HTTP request.
    if (verdict.expired) {
      await identity.sessions.revokeSession(actor, 'policy-lifetime');
      throw new BulwarkError('unauthenticated', verdict.message);
    }
    throw new BulwarkError('policy_unsatisfied', verdict.message);
  };

  const home = await homePolicyVerdict(policies, actor, source, now);
  if (!home.ok && (home.expired || !spec.policyExempt)) await refuse(home);
  if (spec.stepUp) identity.sessions.requireRecentStepUp(actor);

  const authorized = await authorize(identity.storage, actor, action, resourceId);
  const { scope, relation } = authorized;
  if (scope.projectId !== null) {
    const { effective } = await policies.effectiveForProject(scope.projectId);
    const internal = relation.orgRole !== null && relation.orgRole !== 'guest';
    const audience = internal ? effective.internal : effective.external;
    const verdict = evaluateSession(audience, sessionFacts(actor, source), now, 'project');
    if (!verdict.ok) await refuse(verdict);
  }
  return authorized;
}
