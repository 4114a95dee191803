import { orgSlugIndex } from '../directory/orgs.ts';
import { BulwarkError } from '../errors.ts';
import type { Storage } from '../storage/storage.ts';

/**
 * The org an LDAP / OIDC connector places its people in: the one its config
 * names by slug, or (undefined) the installation's default org. A slug that
 * names no org refuses the login loudly rather than filing people elsewhere.
 */
export async function connectorOrg(
  storage: Storage,
  connectorId: string,
  slug: string | null | undefined,
): Promise<string | undefined> {
  if (!slug) return undefined;
  const index = orgSlugIndex(storage, slug);
  const row = await storage.db
    .selectFrom('orgs')
    .select('id')
    .where('slug_index', '=', index)
    .executeTakeFirst();
  if (!row) {
    throw new BulwarkError(
      'directory_unavailable',
      `Connector ${connectorId} names the org "${slug}", which does not exist; create it or fix auth config.`,
    );
  }
  return row.id;
}
