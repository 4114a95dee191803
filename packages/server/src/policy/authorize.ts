import { BulwarkError } from '../errors.ts';
import type { Storage } from '../storage/storage.ts';
import { type Action, actions, type ResourceKind } from './actions.ts';
import {
  type ActorFacts,
  type Relation,
  relationTo,
  resolveScope,
  type Scope,
} from './relation.ts';

export type Decision =
  | { allow: true }
  | { allow: false; code: 'not_found' | 'forbidden'; message: string };

/**
 * Whether the actor may know the resource exists. What they may not know
 * answers 404 exactly like an id that was never used, so ids in URLs,
 * filters and search cannot probe another tenant.
 */
export function visible(kind: ResourceKind, r: Relation): boolean {
  const orgAdmin = r.orgRole === 'owner' || r.orgRole === 'admin';
  switch (kind) {
    case 'none':
      return true;
    case 'org':
      return r.orgVisible;
    case 'project':
    case 'partner-link':
    case 'invitation':
    case 'issue':
    case 'column':
    case 'conversation':
      return orgAdmin || r.projectRole !== null || r.partnerAdmin;
    case 'group':
      return r.orgRole !== null && r.orgRole !== 'guest';
    case 'user':
      return r.orgRole !== null && r.orgRole !== 'guest';
  }
}

/** The decision, from the action's rule and the actor's relation alone (no I/O). */
export function decide(action: Action, relation: Relation): Decision {
  const spec = actions[action];
  if (!visible(spec.resource, relation)) {
    return { allow: false, code: 'not_found', message: notFoundMessage(spec.resource) };
  }
  if (!spec.allow(relation)) {
    return {
      allow: false,
      code: 'forbidden',
      message: `Your role does not allow this (${action}).`,
    };
  }
  return { allow: true };
}

export interface Authorized {
  scope: Scope;
  relation: Relation;
  /** The issue a project change cites (validated), for its ledger entry. */
  issue: string | null;
}

/**
 * The one choke point: finds the resource, relates the actor to it, and
 * decides. Throws `not_found` or `forbidden`; returns what the route may
 * use so it never re-derives access on its own.
 */
export async function authorize(
  storage: Storage,
  actor: ActorFacts,
  action: Action,
  resourceId: string | null,
): Promise<Authorized> {
  const kind = actions[action].resource;
  const scope = await resolveScope(storage, kind, resourceId);
  if (!scope) throw new BulwarkError('not_found', notFoundMessage(kind));
  const relation = await relationTo(storage, actor, scope);
  const decision = decide(action, relation);
  if (!decision.allow) throw new BulwarkError(decision.code, decision.message);
  return { scope, relation, issue: null };
}

function notFoundMessage(kind: ResourceKind): string {
  return kind === 'none' ? 'No such resource.' : `No such ${kind.replace('-', ' ')}.`;
}
