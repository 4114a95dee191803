import type { FastifyRequest } from 'fastify';
import type { DirectoryDeps } from '../../directory/transaction.ts';
import { BulwarkError } from '../../errors.ts';
import { actorOf } from '../../identity/actor.ts';
import { type Device, DeviceStore } from '../devices.ts';
import type { MessagingService } from '../service.ts';

export interface MessagingRouteDeps extends DirectoryDeps {
  messaging: MessagingService;
}

/** The device this session proved it holds; messaging needs one to send or receive. */
export async function sessionDevice(
  deps: MessagingRouteDeps,
  req: FastifyRequest,
): Promise<Device> {
  const device = await new DeviceStore(deps.messaging.storage()).ofSession(actorOf(req).sessionId);
  if (!device) throw new BulwarkError('device_required');
  return device;
}
