import {
  type AuthService,
  addMembers,
  asCiphersuite,
  asDeviceId,
  asGroupId,
  asUserId,
  type GroupState as CryptoGroupState,
  type GeneratedKeyPackage as CryptoKeyPackage,
  commitPending,
  createDeviceIdentity,
  createGroup,
  type DeviceIdentity,
  decodeContent,
  deserializeGroupState,
  encodeContent,
  encryptApplication,
  epoch,
  exportDeviceIdentity,
  exportPrivateKeyPackage,
  generateKeyPackages,
  generateLastResortKeyPackage,
  importDeviceIdentity,
  importPrivateKeyPackage,
  inspectKeyPackage,
  joinFromWelcome,
  MlsGroupError,
  processIncoming,
  serializeGroupState,
  signWithIdentity,
} from '@bulwark/crypto';
import { deviceBindLabel, deviceVerifyLabel } from '@bulwark/protocol';
import type { Member } from './device-store.ts';
import type {
  EngineIdentity,
  GeneratedKeyPackage,
  GroupState,
  IncomingEvent,
  MlsAuth,
  MlsEngine,
} from './mls-engine.ts';

/**
 * The MLS engine port on `@bulwark/crypto`. Group states and identities
 * stay the crypto package's opaque objects; this file only converts ids,
 * bigints and the client's stored forms.
 */
export function createCryptoEngine(): MlsEngine {
  // The crypto package's identity behind each handle the client holds.
  const identities = new WeakMap<EngineIdentity, DeviceIdentity>();

  const wrapIdentity = (identity: DeviceIdentity): EngineIdentity => {
    const handle: EngineIdentity = {
      publicKey: identity.signaturePublicKey,
      exported: JSON.stringify(exportDeviceIdentity(identity)),
    };
    identities.set(handle, identity);
    return handle;
  };
  const unwrap = (handle: EngineIdentity): DeviceIdentity => {
    const identity = identities.get(handle);
    if (!identity) throw new TypeError('not an identity made by this engine');
    return identity;
  };
  const ref = (m: Member) => ({ userId: asUserId(m.userId), deviceId: asDeviceId(m.deviceId) });
  const member = (m: { userId: string; deviceId: string }): Member => ({
    userId: m.userId,
    deviceId: m.deviceId,
  });
  const authService = (auth: MlsAuth): AuthService => ({
    validateCredential: (device, key) => auth.checkDevice(member(device), key),
    validateExternalSender: (key) => auth.checkExternalSender(key),
  });
  const toPort = (state: CryptoGroupState) => state as unknown as GroupState;
  const fromPort = (state: GroupState) => state as unknown as CryptoGroupState;
  const keyPackage = (k: CryptoKeyPackage): GeneratedKeyPackage => ({
    ref: k.private.ref,
    publicKey: k.public,
    privateKey: JSON.stringify(exportPrivateKeyPackage(k.private)),
  });

  return {
    createIdentity: async () => wrapIdentity(await createDeviceIdentity()),
    importIdentity: async (exported) =>
      wrapIdentity(await importDeviceIdentity(JSON.parse(exported))),
    signBindChallenge: (identity, challenge) =>
      signWithIdentity(unwrap(identity), deviceBindLabel, challenge),
    signDeviceVerification: (identity, targetKey) =>
      signWithIdentity(unwrap(identity), deviceVerifyLabel, targetKey),

    generateKeyPackages: async (identity, self, suite, count) =>
      (await generateKeyPackages(unwrap(identity), ref(self), asCiphersuite(suite), count)).map(
        keyPackage,
      ),
    generateLastResortKeyPackage: async (identity, self, suite) =>
      keyPackage(
        await generateLastResortKeyPackage(unwrap(identity), ref(self), asCiphersuite(suite)),
      ),

    async createGroup(args) {
      const created = await createGroup({
        groupId: asGroupId(args.groupId),
        suite: asCiphersuite(args.suite),
        identity: unwrap(args.identity),
        self: ref(args.self),
        serverSignaturePublicKey: args.externalSender,
        authService: authService(args.auth),
      });
      return { state: toPort(created.state), groupInfo: created.groupInfo };
    },

    async addMembers(state, add) {
      // The server says whose package it handed out; the package itself must say the same.
      for (const { member: m, keyPackage: bytes } of add) {
        const info = await inspectKeyPackage(bytes);
        if (
          !info.signatureValid ||
          info.credential.userId !== m.userId ||
          info.credential.deviceId !== m.deviceId
        ) {
          throw new MlsGroupError(
            'invalid_key_package',
            `the key package handed out for device ${m.deviceId} does not belong to it`,
          );
        }
      }
      const result = await addMembers(
        fromPort(state),
        add.map((a) => a.keyPackage),
      );
      if (!result.welcome) throw new MlsGroupError('invalid_commit', 'an add without a Welcome');
      return {
        state: toPort(result.state),
        commit: result.commit,
        groupInfo: result.groupInfo,
        welcome: result.welcome,
      };
    },

    async commitPending(state) {
      const result = await commitPending(fromPort(state));
      return { state: toPort(result.state), commit: result.commit, groupInfo: result.groupInfo };
    },

    async joinFromWelcome(welcome, keyPackages, auth) {
      let used: string | null = null;
      const byRef = new Map(keyPackages.map((k) => [k.ref, k.privateKey]));
      const state = await joinFromWelcome(
        welcome,
        {
          async find(wanted) {
            const exported = byRef.get(wanted);
            if (exported === undefined) return undefined;
            used = wanted;
            return importPrivateKeyPackage(JSON.parse(exported));
          },
          // The client drops the used package from its store before it stores the group.
          async consume() {},
        },
        authService(auth),
      );
      return { state: toPort(state), used };
    },

    async encryptApplication(state, content) {
      const sent = await encryptApplication(fromPort(state), encodeContent(content));
      return { state: toPort(sent.state), message: sent.message };
    },

    async processIncoming(state, message) {
      const incoming = await processIncoming(fromPort(state), message);
      const e = incoming.event;
      let event: IncomingEvent;
      switch (e.type) {
        case 'application':
          // The message decrypted, so its ratchet key is spent: the new state must be kept
          // even when the payload inside is not valid content.
          try {
            event = {
              kind: 'application',
              content: decodeContent(e.content),
              sender: member(e.sender),
            };
          } catch (err) {
            event = {
              kind: 'invalid-content',
              sender: member(e.sender),
              reason: (err as Error).message,
            };
          }
          break;
        case 'commit':
          event = {
            kind: 'commit',
            epoch: Number(e.epoch),
            added: e.added.map(member),
            removed: e.removed.map(member),
            selfRemoved: e.selfRemoved,
          };
          break;
        case 'proposal':
          event = { kind: 'proposal' };
          break;
      }
      return { state: toPort(incoming.state), event };
    },

    epoch: (state) => Number(epoch(fromPort(state))),
    serializeState: async (state) => serializeGroupState(fromPort(state)),
    deserializeState: async (bytes, auth) =>
      toPort(deserializeGroupState(bytes, authService(auth))),
  };
}
