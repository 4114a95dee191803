/**
 * An in-process stand-in for the server's Delivery Service (docs/messaging.md),
 * for the client's scenario tests: real MLS bytes from `@bulwark/crypto`, a
 * `fetch` and a WebSocket factory that never touch the network. It keeps
 * only what the client can observe (epochs, roster, log, key packages,
 * welcomes) and enforces the rules the client must cope with: first commit
 * per epoch wins, pending removals block messages, at-least-once delivery.
 * Not a model of the real server's authorization or policy.
 */
import {
  createExternalRemoveProposal,
  createServerIdentity,
  fingerprint,
  inspectKeyPackage,
  inspectMessage,
  inspectWelcome,
  leavesForAdds,
  type ServerIdentity,
  verifyIdentitySignature,
} from '@bulwark/crypto';
import {
  type ConversationView,
  type Delivery,
  type DeviceView,
  deviceBindLabel,
  deviceVerifyLabel,
  type MessagingServerFrame,
  type MlsCiphersuite,
  type WelcomeDelivery,
} from '@bulwark/protocol';
import { fromBase64Url, toBase64Url } from '../bytes.ts';
import type { FetchAnswer, FetchLike } from '../http.ts';
import type { WsFactory, WsLike } from '../socket.ts';

interface FakeDevice {
  id: string;
  userId: string;
  name: string;
  key: string;
  status: 'active' | 'pending' | 'revoked';
  keyPackages: string[];
  lastResort: string | null;
  createdAt: string;
}

interface FakeConversation {
  id: string;
  projectId: string;
  kind: 'channel' | 'direct';
  name: string | null;
  participants: string[] | null;
  groupId: string;
  suite: MlsCiphersuite;
  epoch: number | null;
  groupInfo: string | null;
  /** leaf → device id */
  roster: Map<number, string>;
  log: Delivery[];
  pendingRemovals: { leaf: number; deviceId: string }[];
  /** device id → the seq it joined at (it receives what follows) */
  joined: Map<string, number>;
  /** device id → the seq of its removal (it receives nothing after) */
  left: Map<string, number>;
  acked: Map<string, number>;
}

class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message = code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export class FakeDeliveryService {
  readonly baseUrl = 'https://bulwark.test/';
  #server: ServerIdentity | null = null;
  readonly #tokens = new Map<string, { userId: string; deviceId: string | null }>();
  readonly #challenges = new Map<string, Uint8Array>();
  readonly #projects = new Map<string, Set<string>>();
  readonly devices = new Map<string, FakeDevice>();
  readonly conversations = new Map<string, FakeConversation>();
  readonly #welcomes = new Map<string, WelcomeDelivery[]>();
  readonly #sockets = new Map<string, Set<FakeSocket>>();
  readonly #attachments = new Map<string, Uint8Array>();
  /** Requests seen, for assertions ("METHOD path"). */
  readonly requests: string[] = [];
  /** When set, the next POST matching it fails with this error (once). */
  failNext: { match: RegExp; status: number; code: string } | null = null;

  async start(): Promise<this> {
    this.#server = await createServerIdentity();
    return this;
  }

  get serverKey(): string {
    return toBase64Url(this.#serverIdentity().signaturePublicKey);
  }

  /** A user in the given projects; returns a bearer token (a new session). */
  addUser(userId: string, projects: string[]): string {
    for (const p of projects) {
      const members = this.#projects.get(p) ?? new Set<string>();
      members.add(userId);
      this.#projects.set(p, members);
    }
    return this.newSession(userId);
  }

  newSession(userId: string): string {
    const token = `bws_${crypto.randomUUID().replaceAll('-', '')}`;
    this.#tokens.set(token, { userId, deviceId: null });
    return token;
  }

  readonly fetch: FetchLike = async (url, init) => {
    const { pathname, searchParams } = new URL(url);
    this.requests.push(`${init.method} ${pathname}`);
    const auth = /^Bearer (.+)$/.exec(init.headers.authorization ?? '')?.[1];
    try {
      const session = auth ? this.#tokens.get(auth) : undefined;
      if (!session || !auth) throw new HttpError(401, 'unauthenticated');
      if (this.failNext && init.method !== 'GET' && this.failNext.match.test(pathname)) {
        const { status, code } = this.failNext;
        this.failNext = null;
        throw new HttpError(status, code);
      }
      const raw = init.body;
      const json = () => JSON.parse(new TextDecoder().decode(raw)) as Record<string, unknown>;
      const result = await this.#route(
        init.method,
        pathname,
        searchParams,
        auth,
        session,
        json,
        raw,
      );
      return answer(result.status ?? 200, result.body);
    } catch (err) {
      if (err instanceof HttpError) {
        return answer(err.status, { error: { code: err.code, message: err.message } });
      }
      return answer(500, { error: { code: 'internal', message: (err as Error).message } });
    }
  };

  readonly wsFactory: WsFactory = (_url, opts) => {
    const token = /^Bearer (.+)$/.exec(opts.headers.authorization ?? '')?.[1] ?? '';
    const socket = new FakeSocket(this, token);
    setImmediate(() => this.#open(socket));
    return socket;
  };

  /** Drops every socket (as a server restart would); clients reconnect. */
  dropSockets(): void {
    for (const set of this.#sockets.values()) for (const s of set) s.serverClose(1012, 'restart');
  }

  /** What an admin or the revocation route does: the server proposes the device's removal everywhere. */
  async revoke(deviceId: string): Promise<void> {
    const device = this.#device(deviceId);
    device.status = 'revoked';
    for (const c of this.conversations.values()) {
      const leaf = [...c.roster].find(([, d]) => d === deviceId)?.[0];
      if (leaf === undefined || c.groupInfo === null) continue;
      await this.#proposeRemoval(c, leaf, deviceId);
    }
    for (const s of this.#sockets.get(deviceId) ?? []) s.serverClose(4410, 'revoked');
  }

  /** Puts raw bytes in a conversation's log, as a broken or hostile member could. */
  inject(
    conversationId: string,
    kind: Delivery['kind'],
    data: Uint8Array,
    epoch?: number,
  ): Delivery {
    const c = this.#conversation(conversationId);
    const saved = c.epoch;
    if (epoch !== undefined) c.epoch = epoch;
    try {
      return this.#append(c, kind, toBase64Url(data), null);
    } finally {
      c.epoch = saved;
    }
  }

  // --- routes ---------------------------------------------------------------------

  async #route(
    method: string,
    path: string,
    query: URLSearchParams,
    token: string,
    session: { userId: string; deviceId: string | null },
    json: () => Record<string, unknown>,
    raw: Uint8Array | undefined,
  ): Promise<{ status?: number; body: unknown }> {
    const parts = path.split('/').filter(Boolean);
    const route = `${method} /${parts.map((p, i) => (i >= 2 && isId(p) ? ':id' : p)).join('/')}`;
    const id = parts.find((p, i) => i >= 2 && isId(p)) ?? '';
    const id2 = parts.filter((p, i) => i >= 2 && isId(p))[1] ?? '';
    switch (route) {
      case 'GET /v1/me':
        return {
          body: { user: { id: session.userId, displayName: session.userId, username: null } },
        };
      case 'POST /v1/messaging/devices': {
        const body = json();
        const device: FakeDevice = {
          id: crypto.randomUUID(),
          userId: session.userId,
          name: String(body.name),
          key: String(body.signaturePublicKey),
          status: 'active',
          keyPackages: [],
          lastResort: null,
          createdAt: new Date().toISOString(),
        };
        this.devices.set(device.id, device);
        session.deviceId = device.id;
        await this.#entitlementsChanged(session.userId);
        return { status: 201, body: { device: await this.#deviceView(device) } };
      }
      case 'GET /v1/messaging/devices': {
        const userId = query.get('userId') ?? session.userId;
        const list = [...this.devices.values()].filter((d) => d.userId === userId);
        return { body: { devices: await Promise.all(list.map((d) => this.#deviceView(d))) } };
      }
      case 'POST /v1/messaging/devices/:id/challenge': {
        const challenge = crypto.getRandomValues(new Uint8Array(32));
        this.#challenges.set(`${token} ${id}`, challenge);
        return { body: { challenge: toBase64Url(challenge) } };
      }
      case 'POST /v1/messaging/devices/:id/bind': {
        const device = this.#device(id);
        const challenge = this.#challenges.get(`${token} ${id}`);
        this.#challenges.delete(`${token} ${id}`);
        const ok =
          challenge !== undefined &&
          device.userId === session.userId &&
          (await verifyIdentitySignature(
            fromBase64Url(device.key),
            deviceBindLabel,
            challenge,
            fromBase64Url(String(json().signature)),
          ));
        if (!ok) throw new HttpError(403, 'forbidden', 'bad bind signature');
        session.deviceId = id;
        return { body: { device: await this.#deviceView(device) } };
      }
      case 'POST /v1/messaging/devices/:id/verify': {
        const target = this.#device(id);
        const voucher = session.deviceId ? this.#device(session.deviceId) : null;
        const ok =
          voucher !== null &&
          voucher.status === 'active' &&
          voucher.userId === target.userId &&
          (await verifyIdentitySignature(
            fromBase64Url(voucher.key),
            deviceVerifyLabel,
            fromBase64Url(target.key),
            fromBase64Url(String(json().signature)),
          ));
        if (!ok) throw new HttpError(403, 'forbidden', 'bad verify signature');
        target.status = 'active';
        await this.#entitlementsChanged(target.userId);
        return { body: { device: await this.#deviceView(target) } };
      }
      case 'DELETE /v1/messaging/devices/:id':
        await this.revoke(id);
        return { status: 204, body: null };
      case 'POST /v1/messaging/devices/:id/key-packages': {
        const device = this.#device(id);
        const body = json() as { keyPackages: string[]; lastResort?: string };
        for (const kp of body.keyPackages) {
          const info = await inspectKeyPackage(fromBase64Url(kp));
          if (!info.signatureValid || info.credential.deviceId !== id)
            throw new HttpError(400, 'bad_request', 'not this device’s key package');
          device.keyPackages.push(kp);
        }
        if (body.lastResort) device.lastResort = body.lastResort;
        await this.#entitlementsChanged(device.userId);
        return { body: this.#stock(device) };
      }
      case 'GET /v1/messaging/devices/:id/key-packages':
        return { body: this.#stock(this.#device(id)) };
      case 'POST /v1/projects/:id/conversations': {
        const body = json();
        const existing =
          body.kind === 'direct'
            ? [...this.conversations.values()].find(
                (c) =>
                  c.projectId === id &&
                  c.kind === 'direct' &&
                  c.participants?.includes(session.userId) &&
                  c.participants.includes(String(body.userId)),
              )
            : undefined;
        if (existing) return { body: { conversation: await this.#view(existing) } };
        const conversation: FakeConversation = {
          id: crypto.randomUUID(),
          projectId: id,
          kind: body.kind === 'direct' ? 'direct' : 'channel',
          name: body.kind === 'channel' ? String(body.name) : null,
          participants: body.kind === 'direct' ? [session.userId, String(body.userId)] : null,
          groupId: toBase64Url(crypto.getRandomValues(new Uint8Array(16))),
          suite: 'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519',
          epoch: null,
          groupInfo: null,
          roster: new Map(),
          log: [],
          pendingRemovals: [],
          joined: new Map(),
          left: new Map(),
          acked: new Map(),
        };
        this.conversations.set(conversation.id, conversation);
        return { status: 201, body: { conversation: await this.#view(conversation) } };
      }
      case 'GET /v1/projects/:id/conversations':
      case 'GET /v1/messaging/conversations': {
        const mine = [...this.conversations.values()].filter(
          (c) => this.#entitledUsers(c).has(session.userId) && (id === '' || c.projectId === id),
        );
        return { body: { conversations: await Promise.all(mine.map((c) => this.#view(c))) } };
      }
      case 'GET /v1/conversations/:id':
        return { body: { conversation: await this.#view(this.#conversation(id)) } };
      case 'POST /v1/conversations/:id/group': {
        const c = this.#conversation(id);
        if (c.epoch !== null) throw new HttpError(409, 'conflict', 'the group exists');
        c.epoch = 0;
        c.groupInfo = String(json().groupInfo);
        c.roster.set(0, this.#bound(session));
        c.joined.set(this.#bound(session), 0);
        this.#signal(c);
        return { body: { conversation: await this.#view(c) } };
      }
      case 'POST /v1/conversations/:id/key-packages/claim': {
        const keyPackages: { deviceId: string; userId: string; keyPackage: string }[] = [];
        const exhausted: string[] = [];
        for (const deviceId of json().devices as string[]) {
          const device = this.#device(deviceId);
          const kp = device.keyPackages.shift() ?? device.lastResort;
          if (kp) keyPackages.push({ deviceId, userId: device.userId, keyPackage: kp });
          else exhausted.push(deviceId);
        }
        if (keyPackages.length === 0) throw new HttpError(409, 'key_packages_exhausted');
        return { body: { keyPackages, exhausted } };
      }
      case 'POST /v1/conversations/:id/commits':
        return { body: await this.#acceptCommit(this.#conversation(id), session, json()) };
      case 'POST /v1/conversations/:id/messages': {
        const c = this.#conversation(id);
        const message = String(json().message);
        const inspected = await inspectMessage(fromBase64Url(message));
        if (inspected.kind !== 'application') throw new HttpError(400, 'bad_request');
        if (Number(inspected.epoch) !== c.epoch) throw new HttpError(409, 'epoch_conflict');
        if (c.pendingRemovals.length > 0) throw new HttpError(409, 'removal_pending');
        const delivery = this.#append(c, 'application', message, null);
        return { body: { seq: delivery.seq } };
      }
      case 'GET /v1/conversations/:id/messages': {
        const c = this.#conversation(id);
        const deviceId = this.#bound(session);
        const after = Math.max(Number(query.get('after') ?? 0), c.joined.get(deviceId) ?? 0);
        const limit = Number(query.get('limit') ?? 100);
        return { body: { deliveries: this.#range(c, deviceId, after).slice(0, limit) } };
      }
      case 'POST /v1/conversations/:id/attachments': {
        const attachmentId = crypto.randomUUID();
        this.#attachments.set(attachmentId, raw ?? new Uint8Array());
        return { status: 201, body: { attachment: { id: attachmentId, size: raw?.length ?? 0 } } };
      }
      case 'GET /v1/conversations/:id/attachments/:id': {
        const blob = this.#attachments.get(id2);
        if (!blob) throw new HttpError(404, 'not_found');
        return { body: blob };
      }
      default:
        throw new HttpError(404, 'not_found', `no route ${route}`);
    }
  }

  async #acceptCommit(
    c: FakeConversation,
    session: { userId: string; deviceId: string | null },
    body: Record<string, unknown>,
  ): Promise<{ seq: number; epoch: number }> {
    const deviceId = this.#bound(session);
    const commit = String(body.commit);
    const inspected = await inspectMessage(fromBase64Url(commit));
    if (inspected.kind !== 'commit') throw new HttpError(400, 'bad_request', 'not a commit');
    if (Number(inspected.epoch) !== c.epoch) throw new HttpError(409, 'epoch_conflict');
    if (c.pendingRemovals.length > inspected.proposalRefs.length) {
      throw new HttpError(409, 'removal_pending');
    }
    const removed = [...inspected.removes, ...c.pendingRemovals.map((p) => p.leaf)];
    const leaves = leavesForAdds(c.roster.keys(), removed, inspected.adds.length);
    const delivery = this.#append(c, 'commit', commit, { userId: session.userId, deviceId });
    for (const leaf of removed) {
      const gone = c.roster.get(leaf);
      c.roster.delete(leaf);
      if (gone) c.left.set(gone, delivery.seq);
    }
    c.pendingRemovals = [];
    inspected.adds.forEach((add, i) => {
      const leaf = leaves[i] ?? -1;
      c.roster.set(leaf, add.credential.deviceId);
      c.joined.set(add.credential.deviceId, delivery.seq);
      c.left.delete(add.credential.deviceId);
    });
    c.epoch = (c.epoch ?? 0) + 1;
    c.groupInfo = String(body.groupInfo);
    if (typeof body.welcome === 'string') {
      const refs = inspectWelcome(fromBase64Url(body.welcome)).keyPackageRefs;
      for (const add of inspected.adds) {
        if (!refs.includes(add.ref)) continue;
        const welcome: WelcomeDelivery = {
          id: crypto.randomUUID(),
          conversation: c.id,
          epoch: c.epoch,
          data: body.welcome,
        };
        const list = this.#welcomes.get(add.credential.deviceId) ?? [];
        list.push(welcome);
        this.#welcomes.set(add.credential.deviceId, list);
        for (const s of this.#sockets.get(add.credential.deviceId) ?? []) {
          s.push({ type: 'welcome', ...welcome });
        }
      }
    }
    // Revoked devices still in the roster are proposed again for the new epoch.
    for (const [leaf, d] of c.roster) {
      if (this.#device(d).status === 'revoked') await this.#proposeRemoval(c, leaf, d);
    }
    this.#signal(c);
    return { seq: delivery.seq, epoch: c.epoch };
  }

  async #proposeRemoval(c: FakeConversation, leaf: number, deviceId: string): Promise<void> {
    if (c.groupInfo === null || c.pendingRemovals.some((p) => p.leaf === leaf)) return;
    const proposal = await createExternalRemoveProposal({
      groupInfoBytes: fromBase64Url(c.groupInfo),
      leafIndex: leaf,
      serverIdentity: this.#serverIdentity(),
    });
    c.pendingRemovals.push({ leaf, deviceId });
    this.#append(c, 'proposal', toBase64Url(proposal.message), null);
    this.#signal(c);
  }

  #append(
    c: FakeConversation,
    kind: Delivery['kind'],
    data: string,
    sender: Delivery['sender'],
  ): Delivery {
    const delivery: Delivery = {
      conversation: c.id,
      seq: c.log.length + 1,
      kind,
      epoch: c.epoch ?? 0,
      data,
      sentAt: new Date().toISOString(),
      sender,
    };
    c.log.push(delivery);
    for (const [deviceId] of c.joined) {
      if (!this.#receives(c, deviceId, delivery.seq)) continue;
      for (const s of this.#sockets.get(deviceId) ?? []) s.push({ type: 'delivery', ...delivery });
    }
    return delivery;
  }

  #receives(c: FakeConversation, deviceId: string, seq: number): boolean {
    const joined = c.joined.get(deviceId);
    const left = c.left.get(deviceId);
    return joined !== undefined && seq > joined && (left === undefined || seq <= left);
  }

  #range(c: FakeConversation, deviceId: string, after: number): Delivery[] {
    return c.log.filter((d) => d.seq > after && this.#receives(c, deviceId, d.seq));
  }

  /** Tells the group's devices (and the missing ones) to look at the conversation. */
  #signal(c: FakeConversation): void {
    const targets = new Set<string>([...c.roster.values()]);
    for (const d of this.devices.values()) {
      if (this.#entitledUsers(c).has(d.userId)) targets.add(d.id);
    }
    for (const d of targets) {
      for (const s of this.#sockets.get(d) ?? [])
        s.push({ type: 'conversation', conversation: c.id });
    }
  }

  async #entitlementsChanged(userId: string): Promise<void> {
    for (const c of this.conversations.values()) {
      if (c.epoch !== null && this.#entitledUsers(c).has(userId)) this.#signal(c);
    }
  }

  #entitledUsers(c: FakeConversation): Set<string> {
    return c.kind === 'direct'
      ? new Set(c.participants ?? [])
      : new Set(this.#projects.get(c.projectId) ?? []);
  }

  async #view(c: FakeConversation): Promise<ConversationView> {
    const users = this.#entitledUsers(c);
    const inRoster = new Set(c.roster.values());
    const entitled = [...this.devices.values()].filter(
      (d) => users.has(d.userId) && d.status === 'active',
    );
    return {
      id: c.id,
      projectId: c.projectId,
      kind: c.kind,
      name: c.name,
      participants: c.participants,
      groupId: c.groupId,
      ciphersuite: c.suite,
      epoch: c.epoch,
      roster: [...c.roster].map(([leaf, deviceId]) => ({
        leaf,
        deviceId,
        userId: this.#device(deviceId).userId,
      })),
      missing: entitled
        .filter(
          (d) =>
            !inRoster.has(d.id) && (c.epoch === null || d.keyPackages.length > 0 || d.lastResort),
        )
        .map((d) => ({ deviceId: d.id, userId: d.userId })),
      pendingRemovals: c.pendingRemovals,
      externalSender: this.serverKey,
      createdAt: new Date().toISOString(),
    };
  }

  async #deviceView(d: FakeDevice): Promise<DeviceView> {
    return {
      id: d.id,
      userId: d.userId,
      name: d.name,
      signaturePublicKey: d.key,
      fingerprint: await fingerprint(fromBase64Url(d.key)),
      status: d.status,
      verifiedBy: null,
      createdAt: d.createdAt,
      revokedAt: d.status === 'revoked' ? new Date().toISOString() : null,
    };
  }

  #stock(d: FakeDevice) {
    return { available: d.keyPackages.length, lastResort: d.lastResort !== null };
  }

  #device(id: string): FakeDevice {
    const d = this.devices.get(id);
    if (!d) throw new HttpError(404, 'not_found', `no device ${id}`);
    return d;
  }

  #conversation(id: string): FakeConversation {
    const c = this.conversations.get(id);
    if (!c) throw new HttpError(404, 'not_found', `no conversation ${id}`);
    return c;
  }

  #bound(session: { deviceId: string | null }): string {
    if (!session.deviceId) throw new HttpError(409, 'device_required');
    return session.deviceId;
  }

  #serverIdentity(): ServerIdentity {
    if (!this.#server) throw new Error('call start() first');
    return this.#server;
  }

  // --- sockets --------------------------------------------------------------------

  #open(socket: FakeSocket): void {
    const session = this.#tokens.get(socket.token);
    let refusal: [number, string] | null = null;
    if (!session) refusal = [4401, 'no session'];
    else if (!session.deviceId) refusal = [4409, 'no device'];
    else if (this.#device(session.deviceId).status === 'revoked') refusal = [4410, 'revoked'];
    if (refusal || !session?.deviceId) {
      socket.serverClose(...(refusal ?? [4409, 'no device']));
      return;
    }
    const deviceId = session.deviceId;
    socket.deviceId = deviceId;
    const set = this.#sockets.get(deviceId) ?? new Set();
    set.add(socket);
    this.#sockets.set(deviceId, set);
    socket.opened();
    socket.push({ type: 'ready', deviceId });
    for (const c of this.conversations.values()) {
      if (!c.joined.has(deviceId)) continue;
      const from = Math.max(c.acked.get(deviceId) ?? 0, c.joined.get(deviceId) ?? 0);
      for (const d of this.#range(c, deviceId, from)) socket.push({ type: 'delivery', ...d });
    }
    for (const w of this.#welcomes.get(deviceId) ?? []) socket.push({ type: 'welcome', ...w });
  }

  /** Frames from a client. */
  receive(socket: FakeSocket, text: string): void {
    const frame = JSON.parse(text) as Record<string, unknown>;
    const deviceId = socket.deviceId;
    if (!deviceId) return;
    if (frame.type === 'ping') socket.push({ type: 'pong' });
    else if (frame.type === 'ack') {
      const c = this.conversations.get(String(frame.conversation));
      if (c) c.acked.set(deviceId, Math.max(c.acked.get(deviceId) ?? 0, Number(frame.seq)));
    } else if (frame.type === 'ack-welcome') {
      const list = this.#welcomes.get(deviceId) ?? [];
      this.#welcomes.set(
        deviceId,
        list.filter((w) => w.id !== frame.id),
      );
    }
  }

  closed(socket: FakeSocket): void {
    if (socket.deviceId) this.#sockets.get(socket.deviceId)?.delete(socket);
  }
}

type Listener = (...args: never[]) => void;

/** The client end of an in-process socket: frames cross on the next turn of the event loop. */
class FakeSocket implements WsLike {
  readyState = 0;
  deviceId: string | null = null;
  readonly token: string;
  readonly #service: FakeDeliveryService;
  readonly #listeners = new Map<string, Listener[]>();

  constructor(service: FakeDeliveryService, token: string) {
    this.#service = service;
    this.token = token;
  }

  on(event: string, listener: Listener): this {
    this.#listeners.set(event, [...(this.#listeners.get(event) ?? []), listener]);
    return this;
  }

  #emit(event: string, ...args: unknown[]): void {
    for (const l of this.#listeners.get(event) ?? []) (l as (...a: unknown[]) => void)(...args);
  }

  opened(): void {
    this.readyState = 1;
    this.#emit('open');
  }

  push(frame: MessagingServerFrame): void {
    const text = JSON.stringify(frame);
    setImmediate(() => {
      if (this.readyState === 1) this.#emit('message', Buffer.from(text), false);
    });
  }

  send(data: string): void {
    if (this.readyState !== 1) return;
    setImmediate(() => this.#service.receive(this, data));
  }

  serverClose(code: number, reason: string): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.#service.closed(this);
    setImmediate(() => this.#emit('close', code, Buffer.from(reason)));
  }

  close(code = 1000, reason = ''): void {
    this.serverClose(code, reason);
  }

  terminate(): void {
    this.serverClose(1006, '');
  }
}

function isId(part: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(part);
}

function answer(status: number, body: unknown): FetchAnswer {
  const bytes =
    body instanceof Uint8Array
      ? body
      : body === null
        ? new Uint8Array()
        : new TextEncoder().encode(JSON.stringify(body));
  return {
    status,
    arrayBuffer: async () => bytes.slice().buffer as ArrayBuffer,
  };
}
