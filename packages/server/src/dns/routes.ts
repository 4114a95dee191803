import type { App } from '../http/app.ts';
import type { DnsRouteDeps } from './routes/context.ts';
import { registerClientGroupRoutes } from './routes/group-routes.ts';
import { registerDnsLogRoutes } from './routes/log-routes.ts';
import { registerZoneRoutes } from './routes/zone-routes.ts';

export type { DnsRouteDeps };

/** The DNS firewall's directory under /v1/orgs/:orgId/dns (docs/dns.md, docs/api.md). */
export function registerDnsRoutes(deps: DnsRouteDeps) {
  return (app: App): void => {
    registerZoneRoutes(deps)(app);
    registerClientGroupRoutes(deps)(app);
    registerDnsLogRoutes(deps)(app);
  };
}
