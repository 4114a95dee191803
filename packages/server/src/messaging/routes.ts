import { messagingCloseCodes } from '@bulwark/protocol';
import { BulwarkError } from '../errors.ts';
import type { App } from '../http/app.ts';
import { actorOf, sourceOf } from '../identity/actor.ts';
import { sessionTokenOf } from '../identity/session-cookie.ts';
import type { LiveSocket } from '../realtime/connection.ts';
import { DeviceStore } from './devices.ts';
import type { MessagingRouteDeps } from './routes/context.ts';
import { registerConversationRoutes } from './routes/conversation-routes.ts';
import { registerDeviceRoutes } from './routes/device-routes.ts';
import type { DeviceHub } from './socket.ts';

export type { MessagingRouteDeps };

/** Devices, conversations and the device socket (docs/messaging.md). */
export function registerMessagingRoutes(
  deps: MessagingRouteDeps,
  hub: DeviceHub,
  origins: () => readonly string[],
) {
  return (app: App): void => {
    registerDeviceRoutes(deps)(app);
    registerConversationRoutes(deps)(app);
    app.get(
      '/v1/messaging/ws',
      {
        websocket: true,
        config: { action: 'messaging.connect' },
        preHandler: async (req) => {
          if (!req.ws) {
            throw new BulwarkError(
              'bad_request',
              'This is the messaging WebSocket: connect with Upgrade: websocket.',
            );
          }
          const origin = req.headers.origin;
          if (origin !== undefined && !origins().includes(origin)) {
            throw new BulwarkError('forbidden', 'WebSockets from another origin are refused.');
          }
        },
      },
      async (socket: LiveSocket, req) => {
        const token = sessionTokenOf(req);
        if (token === null) throw new BulwarkError('unauthenticated');
        const device = await new DeviceStore(deps.messaging.storage()).ofSession(
          actorOf(req).sessionId,
        );
        if (!device) {
          socket.close(messagingCloseCodes.deviceRequired, 'bind a device to this session first');
          return;
        }
        hub.accept(socket, { deviceId: device.id, token, source: sourceOf(req) });
      },
    );
  };
}
