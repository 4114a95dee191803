import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * `__Host-` prefix: the browser accepts the cookie only with Secure, Path=/
 * and no Domain, so no sibling host can set or read it.
 */
export const SESSION_COOKIE = '__Host-bulwark_session';

export function setSessionCookie(reply: FastifyReply, token: string, maxAgeSeconds: number): void {
  reply.header(
    'set-cookie',
    `${SESSION_COOKIE}=${token}; Path=/; Max-Age=${maxAgeSeconds}; HttpOnly; Secure; SameSite=Strict`,
  );
}

export function clearSessionCookie(reply: FastifyReply): void {
  reply.header(
    'set-cookie',
    `${SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict`,
  );
}

/** The session token from the cookie or from `Authorization: Bearer bws_…` (CLI and API clients). */
export function sessionTokenOf(req: FastifyRequest): string | null {
  const bearer = /^Bearer (bws_[A-Za-z0-9_-]{43})$/.exec(req.headers.authorization ?? '');
  if (bearer?.[1]) return bearer[1];
  const cookie = req.headers.cookie ?? '';
  for (const part of cookie.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE) return part.slice(eq + 1).trim();
  }
  return null;
}
