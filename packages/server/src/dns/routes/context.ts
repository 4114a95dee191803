import { z } from 'zod';
import { uuid } from '../../directory/routes/shared.ts';
import type { DnsDirectoryService } from '../service.ts';

/** What the DNS routes need from the composition root. */
export interface DnsRouteDeps {
  dns: DnsDirectoryService;
  /**
   * The resolver's statistics for one org (queries, blocked, top blocked
   * names per category), as a JSON object; the resolver keeps them, not the
   * database.
   */
  stats: (orgId: string) => unknown;
}

export const zoneParams = z.object({ zoneId: uuid('a DNS zone') });
export const recordParams = z.object({
  zoneId: uuid('a DNS zone'),
  recordId: uuid('a DNS record'),
});
export const groupParams = z.object({ clientGroupId: uuid('a DNS client group') });
export const clientParams = z.object({ clientId: uuid('a DNS client') });
