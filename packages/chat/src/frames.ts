import {
  type Delivery,
  type DeliveryKind,
  deliveryKinds,
  type MessagingClientFrame,
  type MessagingServerFrame,
  type WelcomeDelivery,
} from '@bulwark/protocol';

/**
 * The device socket's frames (packages/protocol/src/messaging.ts), checked
 * by hand: the protocol has types, not schemas, for what the server sends,
 * and a frame that does not parse must be reported, not half-used.
 */
export type ParsedFrame = { ok: true; frame: MessagingServerFrame } | { ok: false; reason: string };

export function parseServerFrame(raw: string): ParsedFrame {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  if (!isRecord(value) || typeof value.type !== 'string') {
    return { ok: false, reason: 'not an object with a "type"' };
  }
  switch (value.type) {
    case 'ready':
      return typeof value.deviceId === 'string'
        ? { ok: true, frame: { type: 'ready', deviceId: value.deviceId } }
        : { ok: false, reason: 'ready without deviceId' };
    case 'delivery': {
      const delivery = readDelivery(value);
      return delivery
        ? { ok: true, frame: { type: 'delivery', ...delivery } }
        : { ok: false, reason: 'malformed delivery' };
    }
    case 'welcome': {
      const welcome = readWelcome(value);
      return welcome
        ? { ok: true, frame: { type: 'welcome', ...welcome } }
        : { ok: false, reason: 'malformed welcome' };
    }
    case 'conversation':
      return typeof value.conversation === 'string'
        ? { ok: true, frame: { type: 'conversation', conversation: value.conversation } }
        : { ok: false, reason: 'conversation frame without conversation' };
    case 'pong':
      return { ok: true, frame: { type: 'pong' } };
    case 'error':
      return typeof value.code === 'string' && typeof value.message === 'string'
        ? {
            ok: true,
            // The code is the server's; an unknown one is still shown with its message.
            frame: { type: 'error', code: value.code as never, message: value.message },
          }
        : { ok: false, reason: 'error frame without code and message' };
    default:
      return { ok: false, reason: `unknown frame type "${value.type.slice(0, 40)}"` };
  }
}

export function readDelivery(value: unknown): Delivery | null {
  if (!isRecord(value)) return null;
  const { conversation, seq, kind, epoch, data, sentAt, sender } = value;
  if (typeof conversation !== 'string' || typeof data !== 'string' || typeof sentAt !== 'string')
    return null;
  if (!isCount(seq) || !isCount(epoch)) return null;
  if (typeof kind !== 'string' || !(deliveryKinds as readonly string[]).includes(kind)) return null;
  let from: Delivery['sender'] = null;
  if (sender !== null && sender !== undefined) {
    if (
      !isRecord(sender) ||
      typeof sender.userId !== 'string' ||
      typeof sender.deviceId !== 'string'
    )
      return null;
    from = { userId: sender.userId, deviceId: sender.deviceId };
  }
  return { conversation, seq, kind: kind as DeliveryKind, epoch, data, sentAt, sender: from };
}

function readWelcome(value: Record<string, unknown>): WelcomeDelivery | null {
  const { id, conversation, epoch, data } = value;
  if (typeof id !== 'string' || typeof conversation !== 'string' || typeof data !== 'string')
    return null;
  if (!isCount(epoch)) return null;
  return { id, conversation, epoch, data };
}

export function encodeClientFrame(frame: MessagingClientFrame): string {
  return JSON.stringify(frame);
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}
