import type {
  AttachmentRef,
  ClaimedKeyPackage,
  CommitBody,
  ConversationView,
  CreateConversationBody,
  Delivery,
  DeviceView,
  KeyPackageStock,
  UploadKeyPackagesBody,
} from '@bulwark/protocol';
import { ApiError, TransportError } from './errors.ts';
import { isRecord, readDelivery } from './frames.ts';

/**
 * The subset of `fetch` the client uses: the seam for the platform's HTTP.
 * Tests pass a fake, the CLI its node:https fetch trusting the server's CA,
 * the browser `window.fetch` with the session cookie. A `close` on it (kept-
 * alive connections) is called when the client closes.
 */
export type FetchLike = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: Uint8Array },
) => Promise<FetchAnswer>;

export interface FetchAnswer {
  status: number;
  arrayBuffer(): Promise<ArrayBuffer>;
}

export interface HttpOptions {
  /** The server's base URL (`https://host:port/`). */
  baseUrl: string;
  /** A bearer session token (`bws_…`); absent where the platform sends a session cookie. */
  token?: string;
  fetchImpl: FetchLike & { close?(): void };
}

/** Answers are bounded: a hostile or broken server must not fill memory. */
const maxJsonBytes = 8 * 1024 * 1024;
export const maxAttachmentBytes = 512 * 1024 * 1024;

/**
 * The messaging routes of docs/messaging.md, one method each. Bytes stay
 * base64url here (as on the wire); the client decodes them.
 */
export class MessagingHttp {
  readonly baseUrl: URL;
  readonly #token: string | undefined;
  readonly #fetch: FetchLike & { close?(): void };

  constructor(opts: HttpOptions) {
    this.baseUrl = new URL(opts.baseUrl.endsWith('/') ? opts.baseUrl : `${opts.baseUrl}/`);
    this.#token = opts.token;
    this.#fetch = opts.fetchImpl;
  }

  /** Closes kept-alive connections (they would keep a CLI process from exiting). */
  close(): void {
    this.#fetch.close?.();
  }

  // --- account ---
  async me(): Promise<{ id: string; displayName: string; username: string | null }> {
    const body = await this.#json('GET', 'v1/me');
    const user = isRecord(body) ? body.user : undefined;
    if (!isRecord(user) || typeof user.id !== 'string') throw shape('v1/me');
    return {
      id: user.id,
      displayName: typeof user.displayName === 'string' ? user.displayName : user.id,
      username: typeof user.username === 'string' ? user.username : null,
    };
  }

  // --- devices ---
  async registerDevice(name: string, signaturePublicKey: string): Promise<DeviceView> {
    return device(
      await this.#json('POST', 'v1/messaging/devices', { name, signaturePublicKey }),
      'devices',
    );
  }
  async devices(userId?: string): Promise<DeviceView[]> {
    const query = userId === undefined ? '' : `?userId=${encodeURIComponent(userId)}`;
    const body = await this.#json('GET', `v1/messaging/devices${query}`);
    return listIn(body, 'devices').map((d) => device(d, 'devices'));
  }
  async challenge(deviceId: string): Promise<string> {
    const body = await this.#json('POST', `v1/messaging/devices/${seg(deviceId)}/challenge`, {});
    if (!isRecord(body) || typeof body.challenge !== 'string') throw shape('challenge');
    return body.challenge;
  }
  async bind(deviceId: string, signature: string): Promise<void> {
    await this.#json('POST', `v1/messaging/devices/${seg(deviceId)}/bind`, { signature });
  }
  async verifyDevice(deviceId: string, signature: string): Promise<void> {
    await this.#json('POST', `v1/messaging/devices/${seg(deviceId)}/verify`, { signature });
  }
  async revokeDevice(deviceId: string): Promise<void> {
    await this.#json('DELETE', `v1/messaging/devices/${seg(deviceId)}`);
  }
  async keyPackageStock(deviceId: string, ciphersuite: string): Promise<KeyPackageStock> {
    const body = await this.#json(
      'GET',
      `v1/messaging/devices/${seg(deviceId)}/key-packages?ciphersuite=${encodeURIComponent(ciphersuite)}`,
    );
    if (
      !isRecord(body) ||
      typeof body.available !== 'number' ||
      typeof body.lastResort !== 'boolean'
    )
      throw shape('key-packages');
    return { available: body.available, lastResort: body.lastResort };
  }
  async uploadKeyPackages(deviceId: string, upload: UploadKeyPackagesBody): Promise<void> {
    await this.#json('POST', `v1/messaging/devices/${seg(deviceId)}/key-packages`, upload);
  }

  // --- conversations ---
  async createConversation(
    projectId: string,
    body: CreateConversationBody,
  ): Promise<ConversationView> {
    return conversation(
      await this.#json('POST', `v1/projects/${seg(projectId)}/conversations`, body),
    );
  }
  async conversations(projectId?: string): Promise<ConversationView[]> {
    const path =
      projectId === undefined
        ? 'v1/messaging/conversations'
        : `v1/projects/${seg(projectId)}/conversations`;
    return listIn(await this.#json('GET', path), 'conversations').map(conversation);
  }
  async conversation(id: string): Promise<ConversationView> {
    return conversation(await this.#json('GET', `v1/conversations/${seg(id)}`));
  }
  async establishGroup(id: string, groupInfo: string): Promise<void> {
    await this.#json('POST', `v1/conversations/${seg(id)}/group`, { groupInfo });
  }
  async claimKeyPackages(id: string, devices: string[]): Promise<ClaimedKeyPackage[]> {
    const body = await this.#json('POST', `v1/conversations/${seg(id)}/key-packages/claim`, {
      devices,
    });
    return listIn(body, 'keyPackages').map((k) => {
      if (
        !isRecord(k) ||
        typeof k.deviceId !== 'string' ||
        typeof k.userId !== 'string' ||
        typeof k.keyPackage !== 'string'
      )
        throw shape('key-packages/claim');
      return { deviceId: k.deviceId, userId: k.userId, keyPackage: k.keyPackage };
    });
  }
  /** The server's position for the commit when it says (`{seq}`), else null. */
  async postCommit(id: string, commit: CommitBody): Promise<{ seq: number | null }> {
    return positioned(await this.#json('POST', `v1/conversations/${seg(id)}/commits`, commit));
  }
  async postMessage(id: string, message: string): Promise<{ seq: number | null }> {
    return positioned(
      await this.#json('POST', `v1/conversations/${seg(id)}/messages`, { message }),
    );
  }
  async messagesAfter(id: string, after: number, limit = 500): Promise<Delivery[]> {
    const body = await this.#json(
      'GET',
      `v1/conversations/${seg(id)}/messages?after=${after}&limit=${limit}`,
    );
    const list = Array.isArray(body)
      ? body
      : isRecord(body)
        ? (body.messages ?? body.deliveries)
        : undefined;
    if (!Array.isArray(list)) throw shape('messages');
    return list.map((d: unknown) => {
      // The log answer may leave out the conversation it was asked about.
      const delivery = readDelivery(isRecord(d) ? { conversation: id, ...d } : d);
      if (!delivery) throw shape('messages');
      return delivery;
    });
  }
  async uploadAttachment(id: string, blob: Uint8Array): Promise<AttachmentRef> {
    const body = await this.#json('POST', `v1/conversations/${seg(id)}/attachments`, blob);
    const ref = isRecord(body) && isRecord(body.attachment) ? body.attachment : body;
    if (!isRecord(ref) || typeof ref.id !== 'string' || typeof ref.size !== 'number')
      throw shape('attachments');
    return { id: ref.id, size: ref.size };
  }
  async downloadAttachment(id: string, attachmentId: string): Promise<Uint8Array> {
    const path = `v1/conversations/${seg(id)}/attachments/${seg(attachmentId)}`;
    const { status, raw } = await this.#send('GET', path, undefined, maxAttachmentBytes);
    if (status >= 200 && status < 300) return raw;
    throw answerError(status, raw, path);
  }

  async #json(method: string, path: string, body?: unknown): Promise<unknown> {
    const { status, raw } = await this.#send(method, path, body, maxJsonBytes);
    if (status === 204) return null;
    if (status >= 200 && status < 300) {
      if (raw.byteLength === 0) return null;
      try {
        return JSON.parse(new TextDecoder().decode(raw));
      } catch {
        throw new TransportError(`${this.baseUrl.origin}/${path} answered ${status} without JSON`);
      }
    }
    throw answerError(status, raw, path);
  }

  async #send(
    method: string,
    path: string,
    body: unknown,
    limit: number,
  ): Promise<{ status: number; raw: Uint8Array }> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.#token !== undefined) headers.authorization = `Bearer ${this.#token}`;
    let payload: Uint8Array | undefined;
    if (body instanceof Uint8Array) {
      headers['content-type'] = 'application/octet-stream';
      payload = body;
    } else if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = new TextEncoder().encode(JSON.stringify(body));
    }
    const url = new URL(path, this.baseUrl).toString();
    let answer: FetchAnswer;
    try {
      answer = await this.#fetch(url, {
        method,
        headers,
        ...(payload === undefined ? {} : { body: payload }),
      });
    } catch (err) {
      if (err instanceof TransportError) throw err;
      throw new TransportError(`cannot reach ${this.baseUrl.origin}: ${(err as Error).message}`);
    }
    const raw = new Uint8Array(await answer.arrayBuffer());
    if (raw.byteLength > limit) throw new TransportError(`the answer of ${path} is too large`);
    return { status: answer.status, raw };
  }
}

function answerError(status: number, raw: Uint8Array, path: string): Error {
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder().decode(raw));
  } catch {
    return new TransportError(`${path} answered HTTP ${status} without an error description`);
  }
  const error = isRecord(body) ? body.error : undefined;
  if (isRecord(error) && typeof error.code === 'string' && typeof error.message === 'string') {
    return new ApiError(error.code, error.message, status);
  }
  return new TransportError(`${path} answered HTTP ${status} without an error description`);
}

/** A path segment from a server- or user-given id. */
function seg(id: string): string {
  return encodeURIComponent(id);
}

function shape(what: string): TransportError {
  return new TransportError(
    `the answer of ${what} does not match the messaging protocol: is the server the same version as this client?`,
  );
}

/** A list answer: either the array itself or `{ [key]: [...] }`. */
function listIn(body: unknown, key: string): unknown[] {
  if (Array.isArray(body)) return body;
  if (isRecord(body) && Array.isArray(body[key])) return body[key] as unknown[];
  throw shape(key);
}

function positioned(body: unknown): { seq: number | null } {
  const seq = isRecord(body) && typeof body.seq === 'number' ? body.seq : null;
  return { seq };
}

function device(value: unknown, what: string): DeviceView {
  const d = isRecord(value) && isRecord(value.device) ? value.device : value;
  if (
    !isRecord(d) ||
    typeof d.id !== 'string' ||
    typeof d.userId !== 'string' ||
    typeof d.signaturePublicKey !== 'string' ||
    typeof d.status !== 'string'
  )
    throw shape(what);
  return d as unknown as DeviceView;
}

function conversation(value: unknown): ConversationView {
  const c = isRecord(value) && isRecord(value.conversation) ? value.conversation : value;
  if (
    !isRecord(c) ||
    typeof c.id !== 'string' ||
    typeof c.groupId !== 'string' ||
    !Array.isArray(c.roster) ||
    !Array.isArray(c.missing) ||
    !Array.isArray(c.pendingRemovals) ||
    (c.epoch !== null && typeof c.epoch !== 'number')
  )
    throw shape('conversation');
  return c as unknown as ConversationView;
}
