import { scopeOrg } from '../../directory/routes/shared.ts';
import type { App } from '../../http/app.ts';
import { auditActor } from '../../identity/actor.ts';
import { clientBody, groupBody } from '../inputs.ts';
import { clientParams, type DnsRouteDeps, groupParams } from './context.ts';

/** Client groups (a policy for some devices or ranges) and the clients in them. */
export function registerClientGroupRoutes(deps: DnsRouteDeps) {
  const { dns } = deps;
  const base = '/v1/orgs/:orgId/dns/groups';

  return (app: App): void => {
    app.get(base, { config: { action: 'dns.read' } }, async (req) => ({
      groups: await dns.listGroups(scopeOrg(req)),
    }));

    app.post(base, { config: { action: 'dns.manage' } }, async (req, reply) => {
      const settings = groupBody.parse(req.body);
      const group = await dns.createGroup(auditActor(req), scopeOrg(req), settings);
      return reply.status(201).send({ group });
    });

    app.put(`${base}/:clientGroupId`, { config: { action: 'dns.manage' } }, async (req) => {
      const { clientGroupId } = groupParams.parse(req.params);
      const settings = groupBody.parse(req.body);
      return {
        group: await dns.updateGroup(auditActor(req), scopeOrg(req), clientGroupId, settings),
      };
    });

    app.delete(
      `${base}/:clientGroupId`,
      { config: { action: 'dns.manage' } },
      async (req, reply) => {
        const { clientGroupId } = groupParams.parse(req.params);
        await dns.deleteGroup(auditActor(req), scopeOrg(req), clientGroupId);
        return reply.status(204).send();
      },
    );

    app.get(`${base}/:clientGroupId/clients`, { config: { action: 'dns.read' } }, async (req) => {
      const { clientGroupId } = groupParams.parse(req.params);
      return { clients: await dns.listClients(scopeOrg(req), clientGroupId) };
    });

    app.post(
      `${base}/:clientGroupId/clients`,
      { config: { action: 'dns.manage' } },
      async (req, reply) => {
        const { clientGroupId } = groupParams.parse(req.params);
        const input = clientBody.parse(req.body);
        const made = await dns.createClient(auditActor(req), scopeOrg(req), clientGroupId, input);
        // The DoH URL holds the token: this answer is its only appearance, so no cache keeps it.
        return reply.status(201).header('cache-control', 'no-store').send(made);
      },
    );

    app.delete(
      '/v1/orgs/:orgId/dns/clients/:clientId',
      { config: { action: 'dns.manage' } },
      async (req, reply) => {
        const { clientId } = clientParams.parse(req.params);
        await dns.revokeClient(auditActor(req), scopeOrg(req), clientId);
        return reply.status(204).send();
      },
    );
  };
}
