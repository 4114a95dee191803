import { BulwarkError } from '../errors.ts';
import type { App } from '../http/app.ts';
import { actorOf, sourceOf } from '../identity/actor.ts';
import type { IdentityContext } from '../identity/context.ts';
import { sessionTokenOf } from '../identity/session-cookie.ts';
import { checkStanding } from '../policy/standing.ts';
import type { LiveSocket } from './connection.ts';
import type { HubAccess, RealtimeHub } from './hub.ts';

/**
 * `GET /v1/ws`, the live-updates socket. The request guard authenticates
 * the upgrade like any request (cookie — all a browser can send on a
 * WebSocket — or bearer) under `realtime.connect`; each subscription is
 * then authorized as a read of its project, by the hub.
 */
export function registerRealtimeRoutes(hub: RealtimeHub, origins: () => readonly string[]) {
  return (app: App): void => {
    app.get(
      '/v1/ws',
      {
        websocket: true,
        config: { action: 'realtime.connect' },
        // Before the upgrade, so a refusal is a plain HTTP answer.
        preHandler: async (req) => {
          if (!req.ws) {
            throw new BulwarkError(
              'bad_request',
              'This is the live-updates WebSocket: connect with Upgrade: websocket.',
            );
          }
          // SameSite=Strict keeps the cookie off cross-site handshakes already; this says so
          // explicitly (cross-site WebSocket hijacking). Clients that are not browsers send none.
          const origin = req.headers.origin;
          if (origin !== undefined && !origins().includes(origin)) {
            throw new BulwarkError('forbidden', 'WebSockets from another origin are refused.');
          }
        },
      },
      (socket: LiveSocket, req) => {
        const token = sessionTokenOf(req);
        if (token === null) throw new BulwarkError('unauthenticated');
        hub.accept(socket, { actor: actorOf(req), token, source: sourceOf(req) });
      },
    );
  };
}

/** The hub's questions, answered by the same checks the request guard makes. */
export function realtimeAccess(identity: () => IdentityContext): HubAccess {
  return {
    async session(token, source) {
      const id = identity();
      const actor = await id.sessions.authenticate(token, { touch: false });
      if (!actor) return null;
      await checkStanding(id, actor, 'realtime.connect', null, source);
      return actor;
    },
    async readProject(actor, projectId, source) {
      await checkStanding(identity(), actor, 'project.read', projectId, source);
    },
  };
}
