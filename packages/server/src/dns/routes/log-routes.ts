import { scopeOrg } from '../../directory/routes/shared.ts';
import type { App } from '../../http/app.ts';
import { queryLogQuery } from '../inputs.ts';
import type { DnsRouteDeps } from './context.ts';

/** The query log and the statistics: what people looked up, so org admins only. */
export function registerDnsLogRoutes(deps: DnsRouteDeps) {
  const { dns } = deps;

  return (app: App): void => {
    app.get(
      '/v1/orgs/:orgId/dns/query-log',
      { config: { action: 'dns.log.read' } },
      async (req) => {
        const query = queryLogQuery.parse(req.query);
        return dns.queryLog(scopeOrg(req), query);
      },
    );

    app.get('/v1/orgs/:orgId/dns/stats', { config: { action: 'dns.log.read' } }, async (req) => ({
      stats: await deps.stats(scopeOrg(req)),
    }));
  };
}
