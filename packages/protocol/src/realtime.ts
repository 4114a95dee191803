import { z } from 'zod';
import type { ErrorCode } from './errors.ts';

/**
 * Live updates over `GET /v1/ws` (docs/api.md, "Live updates"): JSON text
 * frames. The client subscribes to projects; the server sends what changed
 * in them — ids and the names of what changed, never content, so a client
 * fetches the resource to see it.
 */

const projectId = z.uuid('expected a project id (a UUID)');

export const realtimeClientFrameSchema = z.discriminatedUnion(
  'type',
  [
    z.object({ type: z.literal('subscribe'), project: projectId }).strict(),
    z.object({ type: z.literal('unsubscribe'), project: projectId }).strict(),
    // Browsers cannot send WebSocket pings; this lets a client notice a dead server.
    z.object({ type: z.literal('ping') }).strict(),
  ],
  {
    error:
      'expected {"type": "subscribe" | "unsubscribe", "project": "<uuid>"} or {"type": "ping"}',
  },
);
export type RealtimeClientFrame = z.infer<typeof realtimeClientFrameSchema>;

export type RealtimeServerFrame =
  | { type: 'subscribed'; project: string }
  | { type: 'unsubscribed'; project: string }
  | { type: 'event'; project: string; event: Record<string, unknown> }
  | { type: 'pong' }
  /** `project` names the subscription it concerns; the connection stays open. */
  | { type: 'error'; code: ErrorCode; message: string; project?: string };

/** Why the server closed the socket (RFC 6455 codes, and 4xxx of our own). */
export const realtimeCloseCodes = {
  /** The server shuts down or was sealed: reconnect later (maybe to another node). */
  goingAway: 1001,
  /** Too many frames, or too many malformed ones. */
  policyViolation: 1008,
  /** A frame over the hard size limit (sent by the WebSocket library). */
  messageTooBig: 1009,
  internalError: 1011,
  /** Too many connections of this account on this node. */
  tryAgainLater: 1013,
  /** The session ended (logged out, revoked, expired, account disabled): log in again. */
  sessionEnded: 4401,
  /** The session no longer satisfies its org's security policy. */
  policyUnsatisfied: 4403,
} as const;
