import { initRequestSchema, rekeyRequestSchema, unsealRequestSchema } from '@bulwark/protocol';
import type { FastifyRequest } from 'fastify';
import { BulwarkError } from '../errors.ts';
import type { App } from '../http/app.ts';
import type { SealService } from './service.ts';

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);
const SYS_BODY_LIMIT = 16 * 1024;

/** Health, status, init, unseal and seal: the only routes a sealed server answers (but seal). */
export function registerSysRoutes(
  app: App,
  seal: SealService,
  opts: {
    allowRemoteInit: boolean;
    afterInit?: () => Promise<Record<string, unknown>>;
    afterRekey?: () => Promise<void>;
  },
) {
  app.get('/health', { config: { action: 'sys.health' } }, async (_req, reply) => {
    const status = seal.state;
    // Load balancers read the status code: only an unsealed node takes traffic.
    return reply.status(status === 'unsealed' ? 200 : 503).send({ status });
  });

  app.get('/v1/sys/status', { config: { action: 'sys.status' } }, async () => seal.status());

  app.post(
    '/v1/sys/init',
    { config: { action: 'sys.init' }, bodyLimit: SYS_BODY_LIMIT },
    async (req) => {
      // First come, first served, as with any unseal-style init: so only the
      // machine itself may do it unless the operator allows otherwise.
      if (!opts.allowRemoteInit && !LOOPBACK.has(req.socket.remoteAddress ?? '')) {
        throw new BulwarkError('init_not_local');
      }
      if (seal.state !== 'uninitialized') throw new BulwarkError('already_initialized');
      const body = initRequestSchema.parse(req.body);
      const result = await seal.initialize(body);
      const extra = opts.afterInit ? await opts.afterInit() : {};
      return { ...result, ...extra, status: seal.status() };
    },
  );

  app.post(
    '/v1/sys/unseal',
    { config: { action: 'sys.unseal' }, bodyLimit: SYS_BODY_LIMIT },
    async (req) => seal.unseal(unsealRequestSchema.parse(req.body), sourceOf(req)),
  );

  app.post(
    '/v1/sys/rekey',
    { config: { action: 'sys.rekey' }, bodyLimit: SYS_BODY_LIMIT },
    async (req) => {
      const result = await seal.rekey(rekeyRequestSchema.parse(req.body), sourceOf(req));
      await opts.afterRekey?.();
      return result;
    },
  );

  app.post(
    '/v1/sys/seal',
    { config: { action: 'sys.seal' }, bodyLimit: SYS_BODY_LIMIT },
    async () => seal.seal(),
  );
}

function sourceOf(req: FastifyRequest): string {
  return req.socket.remoteAddress ?? 'unknown';
}
