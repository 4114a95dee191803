import type { DnsServer } from '@bulwark/dns';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../http/app.ts';
import { toErrorBody } from '../http/error-mapping.ts';

/**
 * DNS over HTTPS (RFC 8484) on the main HTTPS port: `/dns-query` for
 * clients recognised by their address, `/dns-query/<token>` for a
 * registered device (its policy follows it off the office network). Open
 * while sealed, like the other listeners: the office keeps its DNS when an
 * operator seals the server, with the defaults until it is unsealed.
 */
export function registerDohRoutes(dns: () => DnsServer | null) {
  return (app: App): void => {
    app.addContentTypeParser(
      'application/dns-message',
      { parseAs: 'buffer', bodyLimit: 4096 },
      (_req, body, done) => done(null, body),
    );
    const handler = async (
      req: FastifyRequest<{ Params: { token?: string }; Querystring: { dns?: string } }>,
      reply: FastifyReply,
    ) => {
      const server = dns();
      if (!server) {
        return reply
          .status(404)
          .send(
            toErrorBody('not_found', 'DNS over HTTPS is not enabled on this server (dns.enabled).'),
          );
      }
      const answer = await server.handleDoh({
        method: req.method,
        contentType: req.headers['content-type'],
        dnsParam: typeof req.query.dns === 'string' ? req.query.dns : undefined,
        body: req.body,
        address: req.ip,
        ...(req.params.token !== undefined ? { token: req.params.token } : {}),
      });
      reply.status(answer.status).type(answer.contentType);
      return reply.send(typeof answer.body === 'string' ? answer.body : Buffer.from(answer.body));
    };
    // Not in the request log: the path carries a device's token and `?dns=` the name looked up
    // (the query log, under the org's privacy mode, is where lookups are kept, if anywhere).
    const route = {
      config: { action: 'dns.query' as const },
      bodyLimit: 4096,
      logLevel: 'warn' as const,
    };
    app.get('/dns-query', route, handler);
    app.post('/dns-query', route, handler);
    app.get('/dns-query/:token', route, handler);
    app.post('/dns-query/:token', route, handler);
  };
}
