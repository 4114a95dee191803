import { z } from 'zod';
import { linkKinds } from './links.ts';

/** Client operation ids: random, chosen by the client (a UUID fits). */
const opId = z.string().regex(/^[A-Za-z0-9_-]{8,128}$/, 'opId: 8-128 letters, digits, - or _');
/** The client's hybrid logical clock stamp; absent for plain API calls (the server stamps them). */
const hlc = z.string().min(1).max(100).optional();
const set = z.record(z.string(), z.unknown());

/**
 * What a client sends, online or replayed from its offline queue. Every
 * operation names its own id (idempotency) and its HLC (merge order); a
 * move is an update that sets `status` and `rank` together.
 */
export const operationSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('issue.create'), opId, hlc, issueId: z.uuid(), set }).strict(),
  z.object({ kind: z.literal('issue.update'), opId, hlc, issueId: z.uuid(), set }).strict(),
  z.object({ kind: z.literal('issue.delete'), opId, hlc, issueId: z.uuid() }).strict(),
  z
    .object({
      kind: z.literal('comment.add'),
      opId,
      hlc,
      issueId: z.uuid(),
      body: z
        .string()
        .trim()
        .min(1)
        .max(16 * 1024, 'body: at most 16384 characters'),
    })
    .strict(),
  z
    .object({
      kind: z.literal('link.add'),
      opId,
      hlc,
      issueId: z.uuid(),
      /** `APOLLO-7` or the issue's id. */
      to: z.string().min(1).max(64),
      link: z.enum(linkKinds),
    })
    .strict(),
]);

export type KanbanOperation = z.output<typeof operationSchema>;

export const batchSchema = z.object({ ops: z.array(operationSchema).min(1).max(200) }).strict();

export interface OpResult {
  opId: string;
  /** applied; duplicate (applied before, this is that answer again); rejected (nothing changed). */
  status: 'applied' | 'duplicate' | 'rejected';
  issueId: string;
  /** This operation's writes that lost to a concurrent edit with a later clock (kept in history). */
  conflicts?: unknown[];
  /** The board's warnings: a column over its WIP limit, a cycle of "blocks". */
  warnings?: string[];
  error?: { code: string; message: string };
}
