import { type ErrorBody, type ErrorCode, errorCatalogue } from '@bulwark/protocol';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ZodError } from 'zod';
import { BulwarkError } from '../errors.ts';

/** Fastify's own error codes for bad input, mapped onto our catalogue. */
const fastifyCodes: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'bad_request',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'bad_request',
  FST_ERR_VALIDATION: 'bad_request',
};

export function toErrorBody(code: ErrorCode, message?: string, details?: unknown): ErrorBody {
  return {
    error: {
      code,
      message: message ?? errorCatalogue[code].message,
      ...(details === undefined ? {} : { details }),
    },
  };
}

/** The one place an error becomes an HTTP answer. Unknown errors say nothing but "internal". */
export function handleError(err: FastifyError | Error, req: FastifyRequest, reply: FastifyReply) {
  if (err instanceof BulwarkError) {
    if (err.httpStatus >= 500)
      req.log.error({ code: err.code, msg: err.message }, 'request failed');
    return reply.status(err.httpStatus).send(toErrorBody(err.code, err.message, err.details));
  }
  if (err instanceof ZodError) {
    const details = err.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
    const first = details[0];
    return reply
      .status(400)
      .send(
        toErrorBody(
          'bad_request',
          `Invalid request${first ? ` — ${first.path || 'body'}: ${first.message}` : ''}.`,
          details,
        ),
      );
  }
  const fastifyCode = 'code' in err ? fastifyCodes[err.code] : undefined;
  if (fastifyCode) {
    return reply
      .status(errorCatalogue[fastifyCode].httpStatus)
      .send(toErrorBody(fastifyCode, err.message));
  }
  if ('statusCode' in err && typeof err.statusCode === 'number' && err.statusCode < 500) {
    // JSON syntax errors and the like: the message is Fastify's and holds no secret.
    return reply.status(400).send(toErrorBody('bad_request', err.message));
  }
  req.log.error({ err }, 'unexpected error');
  return reply.status(500).send(toErrorBody('internal'));
}
