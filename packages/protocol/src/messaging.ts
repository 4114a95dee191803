import { z } from 'zod';
import type { ErrorCode } from './errors.ts';

/**
 * End-to-end encrypted messaging (docs/messaging.md). The server is the MLS
 * Delivery Service: it sees group ids, epochs, which device sits at which
 * leaf and the opaque MLS bytes — never content. Bytes travel as base64url
 * without padding.
 */

const base64url = z
  .string()
  .regex(/^[A-Za-z0-9_-]*$/, 'expected base64url (RFC 4648 §5) without padding');
const bytes = (what: string, maxBytes: number) =>
  base64url
    .min(1, `${what} is empty`)
    .max(Math.ceil((maxBytes * 4) / 3), `${what} is larger than ${maxBytes} bytes`);

export const mlsCiphersuites = [
  'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519',
  'MLS_256_XWING_AES256GCM_SHA512_Ed25519',
] as const;
export type MlsCiphersuite = (typeof mlsCiphersuites)[number];

/** Limits the Delivery Service enforces (attachments are bounded by policy instead). */
export const messagingLimits = {
  /** One MLS application message (text, reply, reaction, attachment reference). */
  applicationMessageBytes: 256 * 1024,
  /** A commit carries an update path and, for big adds, many key packages. */
  commitBytes: 4 * 1024 * 1024,
  welcomeBytes: 4 * 1024 * 1024,
  groupInfoBytes: 64 * 1024,
  keyPackageBytes: 16 * 1024,
  keyPackagesPerUpload: 100,
  /** A device keeps at most this many unused key packages on the server. */
  keyPackagesPerDevice: 200,
  claimDevicesPerRequest: 1000,
  /** Deliveries sent before the server waits for an ack. */
  deliveryWindow: 256,
} as const;

// --- devices ----------------------------------------------------------------

export const deviceStatuses = ['active', 'pending', 'revoked'] as const;
export type DeviceStatus = (typeof deviceStatuses)[number];

export const registerDeviceBodySchema = z
  .object({
    name: z.string().trim().min(1, 'name is empty').max(100, 'name is over 100 characters'),
    /** The device's Ed25519 identity key (32 bytes): signs its key packages and leaves. */
    signaturePublicKey: bytes('signaturePublicKey', 32),
  })
  .strict();
export type RegisterDeviceBody = z.infer<typeof registerDeviceBodySchema>;

export interface DeviceView {
  id: string;
  userId: string;
  name: string;
  signaturePublicKey: string;
  /** Hex SHA-256 of the identity key: what people compare. */
  fingerprint: string;
  /** pending: waits for verification (policy); revoked: removed from every conversation. */
  status: DeviceStatus;
  verifiedBy: { kind: 'device' | 'admin'; id: string } | null;
  createdAt: string;
  revokedAt: string | null;
}

/** A session proves it holds a device's identity key by signing a fresh challenge. */
export const bindDeviceBodySchema = z.object({ signature: bytes('signature', 64) }).strict();

/** Another of the user's devices vouches for this one by signing its identity key. */
export const verifyDeviceBodySchema = z.object({ signature: bytes('signature', 64) }).strict();

export const uploadKeyPackagesBodySchema = z
  .object({
    keyPackages: z
      .array(bytes('a key package', messagingLimits.keyPackageBytes))
      .max(
        messagingLimits.keyPackagesPerUpload,
        `at most ${messagingLimits.keyPackagesPerUpload} key packages per upload`,
      ),
    /** Handed out when the others run out, and never used up (RFC 9420 §16.8). */
    lastResort: bytes('lastResort', messagingLimits.keyPackageBytes).optional(),
  })
  .strict();
export type UploadKeyPackagesBody = z.infer<typeof uploadKeyPackagesBodySchema>;

export interface KeyPackageStock {
  available: number;
  lastResort: boolean;
}

// --- conversations -------------------------------------------------------------

export const createConversationBodySchema = z.discriminatedUnion(
  'kind',
  [
    z
      .object({
        kind: z.literal('channel'),
        name: z.string().trim().min(1, 'name is empty').max(80, 'name is over 80 characters'),
      })
      .strict(),
    z.object({ kind: z.literal('direct'), userId: z.uuid('expected a user id') }).strict(),
  ],
  { error: 'expected {"kind": "channel", "name"} or {"kind": "direct", "userId"}' },
);
export type CreateConversationBody = z.infer<typeof createConversationBodySchema>;

export interface RosterEntry {
  leaf: number;
  deviceId: string;
  userId: string;
}

export interface ConversationView {
  id: string;
  projectId: string;
  kind: 'channel' | 'direct';
  /** Channels only. */
  name: string | null;
  /** Direct conversations: the two people. */
  participants: string[] | null;
  /** The MLS group id. */
  groupId: string;
  ciphersuite: MlsCiphersuite;
  /** null until a device establishes the group. */
  epoch: number | null;
  roster: RosterEntry[];
  /** Devices entitled to be in the group that are not yet: any member may add them. */
  missing: { deviceId: string; userId: string }[];
  /** Removals the server proposed in this epoch that no one has committed yet. */
  pendingRemovals: { leaf: number; deviceId: string }[];
  /** The server's external-sender key (Ed25519), to put in the group's external_senders. */
  externalSender: string;
  createdAt: string;
}

export const establishGroupBodySchema = z
  .object({ groupInfo: bytes('groupInfo', messagingLimits.groupInfoBytes) })
  .strict();

export const commitBodySchema = z
  .object({
    commit: bytes('commit', messagingLimits.commitBytes),
    /** The GroupInfo of the epoch the commit starts (signed by the committer). */
    groupInfo: bytes('groupInfo', messagingLimits.groupInfoBytes),
    welcome: bytes('welcome', messagingLimits.welcomeBytes).optional(),
  })
  .strict();
export type CommitBody = z.infer<typeof commitBodySchema>;

export const sendMessageBodySchema = z
  .object({ message: bytes('message', messagingLimits.applicationMessageBytes) })
  .strict();

export const claimKeyPackagesBodySchema = z
  .object({
    devices: z
      .array(z.uuid('expected device ids'))
      .min(1, 'name at least one device')
      .max(messagingLimits.claimDevicesPerRequest),
  })
  .strict();

export interface ClaimedKeyPackage {
  deviceId: string;
  userId: string;
  keyPackage: string;
}

export const deliveryKinds = ['commit', 'proposal', 'application'] as const;
export type DeliveryKind = (typeof deliveryKinds)[number];

/** One entry of a conversation's ordered log, as delivered to devices. */
export interface Delivery {
  conversation: string;
  /** Position in the conversation's log: gap-free, increasing. */
  seq: number;
  kind: DeliveryKind;
  epoch: number;
  data: string;
  sentAt: string;
  /** Commits name their device (the ledger records it); application messages carry no sender. */
  sender: { userId: string; deviceId: string } | null;
}

export interface WelcomeDelivery {
  id: string;
  conversation: string;
  epoch: number;
  data: string;
}

export interface AttachmentRef {
  id: string;
  size: number;
}

// --- the device socket (GET /v1/messaging/ws) ------------------------------------

export const messagingClientFrameSchema = z.discriminatedUnion(
  'type',
  [
    /** Everything up to and including `seq` was processed: not delivered again. */
    z
      .object({
        type: z.literal('ack'),
        conversation: z.uuid(),
        seq: z.number().int().nonnegative(),
      })
      .strict(),
    z.object({ type: z.literal('ack-welcome'), id: z.uuid() }).strict(),
    z.object({ type: z.literal('ping') }).strict(),
  ],
  {
    error:
      'expected {"type": "ack", "conversation", "seq"}, {"type": "ack-welcome", "id"} or {"type": "ping"}',
  },
);
export type MessagingClientFrame = z.infer<typeof messagingClientFrameSchema>;

export type MessagingServerFrame =
  /** First frame: the device this socket serves; the backlog follows. */
  | { type: 'ready'; deviceId: string }
  | ({ type: 'delivery' } & Delivery)
  | ({ type: 'welcome' } & WelcomeDelivery)
  /** The conversation's roster or pending work changed: fetch it and act (add missing, commit removals). */
  | { type: 'conversation'; conversation: string }
  | { type: 'pong' }
  | { type: 'error'; code: ErrorCode; message: string };

export const messagingCloseCodes = {
  /** The session has no device bound to it. */
  deviceRequired: 4409,
  /** The device was revoked. */
  deviceRevoked: 4410,
} as const;

/** What a device signs to bind a session to itself (the server's challenge follows). */
export const deviceBindLabel = 'bulwark-device-bind:v1:';
/** What a device signs to vouch for another device of its user (the other's identity key follows). */
export const deviceVerifyLabel = 'bulwark-device-verify:v1:';
