import { ApiError, type FetchLike, isRecord, TransportError } from '@bulwark/chat';
import { httpsFetch } from './https-fetch.ts';

/**
 * Username, password and a second factor for a bearer session
 * (docs/api.md, "Logging in"): a password alone never makes a session.
 * SMS codes are not offered here (insecure, and they need a second round).
 */
export async function loginWithPassword(opts: {
  server: URL;
  ca?: string;
  username: string;
  askPassword: () => Promise<string>;
  askCode: (method: 'totp' | 'recovery-code') => Promise<string>;
  fetchImpl?: FetchLike;
}): Promise<string> {
  const own = opts.fetchImpl ? null : httpsFetch(opts.ca);
  const fetchImpl = opts.fetchImpl ?? (own as FetchLike);
  try {
    return await login(opts, fetchImpl);
  } finally {
    own?.close();
  }
}

async function login(
  opts: Parameters<typeof loginWithPassword>[0],
  fetchImpl: FetchLike,
): Promise<string> {
  const post = async (path: string, body: unknown): Promise<unknown> => {
    const answer = await fetchImpl(new URL(path, opts.server).toString(), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: new TextEncoder().encode(JSON.stringify(body)),
    });
    let value: unknown;
    try {
      value = JSON.parse(new TextDecoder().decode(await answer.arrayBuffer()));
    } catch {
      throw new TransportError(`${path} answered HTTP ${answer.status} without JSON`);
    }
    if (answer.status >= 200 && answer.status < 300) return value;
    const error = isRecord(value) ? value.error : undefined;
    if (isRecord(error) && typeof error.code === 'string' && typeof error.message === 'string') {
      throw new ApiError(error.code, error.message, answer.status);
    }
    throw new TransportError(`${path} answered HTTP ${answer.status}`);
  };

  const password = await opts.askPassword();
  const first = await post('v1/auth/login/password', { username: opts.username, password });
  const pending = isRecord(first) && isRecord(first.secondFactor) ? first.secondFactor : null;
  if (!pending || typeof pending.challengeId !== 'string' || !Array.isArray(pending.methods)) {
    throw new TransportError('the password login answer does not match the protocol');
  }
  const methods = pending.methods.filter((m): m is string => typeof m === 'string');
  const method = methods.includes('totp')
    ? 'totp'
    : methods.includes('recovery-code')
      ? 'recovery-code'
      : null;
  if (method === null) {
    throw new ApiError(
      'method_not_allowed_by_policy',
      `this account's second factor (${methods.join(', ') || 'none'}) cannot be used from the CLI; ` +
        'enrol an authenticator app, or log in with a token (--token-file)',
      403,
    );
  }
  const code = await opts.askCode(method);
  const done = await post('v1/auth/login/second-factor', {
    challengeId: pending.challengeId,
    method,
    code,
    session: 'bearer',
  });
  if (!isRecord(done) || typeof done.token !== 'string') {
    throw new TransportError('the login answer carries no bearer token');
  }
  return done.token;
}
