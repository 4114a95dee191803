import { scopeOrg } from '../../directory/routes/shared.ts';
import type { App } from '../../http/app.ts';
import { auditActor } from '../../identity/actor.ts';
import { recordBody, zoneBody } from '../inputs.ts';
import { type DnsRouteDeps, recordParams, zoneParams } from './context.ts';

/** An org's internal zones and their records (docs/dns.md, "Internal zones"). */
export function registerZoneRoutes(deps: DnsRouteDeps) {
  const { dns } = deps;
  const base = '/v1/orgs/:orgId/dns/zones';

  return (app: App): void => {
    app.get(base, { config: { action: 'dns.read' } }, async (req) => ({
      zones: await dns.listZones(scopeOrg(req)),
    }));

    app.post(base, { config: { action: 'dns.manage' } }, async (req, reply) => {
      const { name } = zoneBody.parse(req.body);
      const zone = await dns.createZone(auditActor(req), scopeOrg(req), name);
      return reply.status(201).send({ zone: { ...zone, records: [] } });
    });

    app.get(`${base}/:zoneId`, { config: { action: 'dns.read' } }, async (req) => {
      const { zoneId } = zoneParams.parse(req.params);
      return { zone: await dns.zone(scopeOrg(req), zoneId) };
    });

    app.delete(`${base}/:zoneId`, { config: { action: 'dns.manage' } }, async (req, reply) => {
      const { zoneId } = zoneParams.parse(req.params);
      await dns.deleteZone(auditActor(req), scopeOrg(req), zoneId);
      return reply.status(204).send();
    });

    app.post(
      `${base}/:zoneId/records`,
      { config: { action: 'dns.manage' } },
      async (req, reply) => {
        const { zoneId } = zoneParams.parse(req.params);
        const input = recordBody.parse(req.body);
        const record = await dns.addRecord(auditActor(req), scopeOrg(req), zoneId, input);
        return reply.status(201).send({ record });
      },
    );

    app.put(
      `${base}/:zoneId/records/:recordId`,
      { config: { action: 'dns.manage' } },
      async (req) => {
        const { zoneId, recordId } = recordParams.parse(req.params);
        const input = recordBody.parse(req.body);
        return {
          record: await dns.replaceRecord(auditActor(req), scopeOrg(req), zoneId, recordId, input),
        };
      },
    );

    app.delete(
      `${base}/:zoneId/records/:recordId`,
      { config: { action: 'dns.manage' } },
      async (req, reply) => {
        const { zoneId, recordId } = recordParams.parse(req.params);
        await dns.deleteRecord(auditActor(req), scopeOrg(req), zoneId, recordId);
        return reply.status(204).send();
      },
    );
  };
}
