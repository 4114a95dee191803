/**
 * The one way the web client talks to the server: JSON over fetch with the
 * session cookie (same origin, never a token in script reach). Every failure
 * becomes an `ApiError` (the server's stable `code` and its message) or a
 * `NetworkError`, and the shared app status learns about the ones every
 * screen must show: offline, sealed, session ended, policy unsatisfied.
 *
 * Step-up: an action answered `step_up_required` asks the person to confirm
 * with their passkey or authenticator code (the handler the shell installs),
 * then is sent once more.
 */
import { updateAppStatus } from '../app/status.ts';

export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: unknown;
  constructor(status: number, code: string, message: string, details?: unknown) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** The server could not be reached at all (offline, DNS, TLS, server down). */
export class NetworkError extends Error {
  constructor(cause: unknown) {
    super('The server could not be reached. Check your connection; nothing you did is lost.');
    this.name = 'NetworkError';
    this.cause = cause;
  }
}

export type StepUpHandler = () => Promise<boolean>;
let stepUpHandler: StepUpHandler | null = null;

/** The shell installs the dialog that proves presence again; resolves false when cancelled. */
export function setStepUpHandler(handler: StepUpHandler | null): void {
  stepUpHandler = handler;
}

export interface RequestOptions {
  /** `Bulwark-Issue: KEY-12` for changes inside a project (see docs/api.md). */
  issue?: string | undefined;
  /** An operator token for the key-ceremony routes; sent for this request only. */
  operatorToken?: string | undefined;
  /** Answer step-up prompts (default true); false lets the caller handle `step_up_required`. */
  stepUp?: boolean;
  signal?: AbortSignal;
  /** A raw body (attachments): sent as application/octet-stream. */
  raw?: Uint8Array;
  /** Return the raw response bytes instead of JSON. */
  binary?: boolean;
  /** Return text (checkpoints are text/plain). */
  text?: boolean;
}

async function send(method: string, path: string, body: unknown, options: RequestOptions) {
  const headers: Record<string, string> = { accept: 'application/json' };
  let payload: BodyInit | undefined;
  if (options.raw) {
    headers['content-type'] = 'application/octet-stream';
    payload = options.raw as Uint8Array<ArrayBuffer>;
  } else if (body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  if (options.issue) headers['bulwark-issue'] = options.issue;
  if (options.operatorToken) headers.authorization = `Bearer ${options.operatorToken}`;
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: payload ?? null,
      credentials: 'same-origin',
      cache: 'no-store',
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (error) {
    if (options.signal?.aborted) throw error;
    updateAppStatus({ connectivity: 'offline' });
    throw new NetworkError(error);
  }
  updateAppStatus({ connectivity: 'online' });
  return response;
}

async function readError(response: Response): Promise<ApiError> {
  let body: Partial<ErrorBody> | null = null;
  try {
    body = (await response.json()) as Partial<ErrorBody>;
  } catch {
    // A proxy's HTML page or an empty body: fall through to a generic message.
  }
  const code = body?.error?.code ?? `http_${response.status}`;
  const message =
    body?.error?.message ?? `The server answered ${response.status} ${response.statusText}.`;
  return new ApiError(response.status, code, message, body?.error?.details);
}

/** Tell the shell about the errors that concern every screen. */
function noteGlobalError(error: ApiError, path: string): void {
  if (error.code === 'sealed') updateAppStatus({ sealed: true });
  else if (
    error.status === 401 &&
    error.code === 'unauthenticated' &&
    !path.startsWith('/v1/auth/')
  )
    updateAppStatus({ sessionEnded: true });
  else if (error.code === 'policy_unsatisfied') updateAppStatus({ policyMessage: error.message });
}

export async function request<T>(
  method: string,
  path: string,
  body?: unknown,
  options: RequestOptions = {},
): Promise<T> {
  let response = await send(method, path, body, options);
  if (!response.ok) {
    let error = await readError(response);
    if (error.code === 'step_up_required' && options.stepUp !== false && stepUpHandler) {
      if (await stepUpHandler()) {
        response = await send(method, path, body, options);
        if (response.ok) return parse<T>(response, options);
        error = await readError(response);
      }
    }
    noteGlobalError(error, path);
    throw error;
  }
  if (!path.startsWith('/v1/sys/')) updateAppStatus({ sealed: false });
  return parse<T>(response, options);
}

async function parse<T>(response: Response, options: RequestOptions): Promise<T> {
  if (options.binary) return new Uint8Array(await response.arrayBuffer()) as T;
  if (options.text) return (await response.text()) as T;
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

export const api = {
  get: <T>(path: string, options?: RequestOptions) => request<T>('GET', path, undefined, options),
  post: <T>(path: string, body?: unknown, options?: RequestOptions) =>
    request<T>('POST', path, body ?? {}, options),
  put: <T>(path: string, body?: unknown, options?: RequestOptions) =>
    request<T>('PUT', path, body ?? {}, options),
  patch: <T>(path: string, body?: unknown, options?: RequestOptions) =>
    request<T>('PATCH', path, body ?? {}, options),
  delete: <T = void>(path: string, options?: RequestOptions) =>
    request<T>('DELETE', path, undefined, options),
};

/** Words for a person: what went wrong and, where it helps, what to do. */
export function describeError(error: unknown): string {
  if (error instanceof NetworkError) return error.message;
  if (error instanceof ApiError) return error.message;
  if (error instanceof DOMException && error.name === 'NotAllowedError')
    return 'The passkey prompt was cancelled or timed out. Try again when ready.';
  if (error instanceof Error) return error.message;
  return String(error);
}

/** `encodeURIComponent` for ids in paths (they are uuids; this keeps a bad one harmless). */
export const seg = (value: string) => encodeURIComponent(value);
