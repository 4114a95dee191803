import { z } from 'zod';
import { uuid } from '../../directory/routes/shared.ts';
import { linkKinds } from '../links.ts';
import { issueFilterSchema } from '../search.ts';

/** Request bodies and queries of the Kanban routes (an operation's own fields are checked by the merge model). */
export const opFields = {
  opId: z
    .string()
    .regex(/^[A-Za-z0-9_-]{8,128}$/)
    .optional(),
  hlc: z.string().max(100).optional(),
};
export const createBody = z
  .object({ ...opFields, issueId: z.uuid().optional(), set: z.record(z.string(), z.unknown()) })
  .strict();
export const updateBody = z
  .object({ ...opFields, set: z.record(z.string(), z.unknown()) })
  .strict();
export const moveBody = z
  .object({
    ...opFields,
    status: z.uuid('status: expected a column id'),
    /** The card it lands after (null: the top), by id. */
    after: z.uuid().nullable().default(null),
  })
  .strict();
export const commentBody = z.object({ ...opFields, body: z.string() }).strict();
export const linkBody = z
  .object({ ...opFields, to: z.string().min(1).max(64), link: z.enum(linkKinds) })
  .strict();
export const columnBody = z
  .object({
    name: z.string().trim().min(1).max(60),
    wipLimit: z.number().int().min(1).max(1000).nullable().default(null),
    /** The column it comes after (null: first); absent: last. */
    after: z.uuid().nullable().optional(),
  })
  .strict();
export const columnPatch = z
  .object({
    name: z.string().trim().min(1).max(60).optional(),
    wipLimit: z.number().int().min(1).max(1000).nullable().optional(),
    after: z.uuid().nullable().optional(),
  })
  .strict();
export const boardQuery = z
  .object({ perColumn: z.coerce.number().int().min(1).max(200).default(50) })
  .strict();
export const searchQuery = issueFilterSchema.extend({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  offset: z.coerce.number().int().min(0).default(0),
});
export const viewBody = z
  .object({ name: z.string().trim().min(1).max(60), filter: issueFilterSchema })
  .strict();
export const exportQuery = z.object({ format: z.enum(['json', 'csv']).default('json') }).strict();
export const linkParams = z.object({ issueId: uuid('an issue'), linkId: uuid('a link') }).strict();
export const viewParams = z
  .object({ projectId: uuid('a project'), viewId: uuid('a view') })
  .strict();
