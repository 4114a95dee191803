/**
 * The browser's `DeviceStore`: every record of the messaging device (its
 * identity key, private key packages, group states, timelines, known keys)
 * sealed in the encrypted offline vault, never in plain IndexedDB or
 * localStorage. A locked vault throws `VaultLockedError`, which the chat
 * page turns into "sign in with your passkey"; nothing is written in clear
 * meanwhile.
 */
import {
  type ConversationRecord,
  checkStoreId,
  type DeviceStore,
  type KnownKeys,
  type StoredDevice,
  type StoredKeyPackage,
  type Timeline,
} from '@bulwark/chat';
import { vault } from '../../offline/vault.ts';

// The vault lists by first segment (before ':' or '/'): conversations get a namespace of
// their own, so listing them decrypts no timeline or key record names.
const keys = {
  device: 'chat-device:identity',
  keyPackages: 'chat-device:key-packages',
  knownKeys: 'chat-device:known-keys',
  conversations: 'chat-conversations/',
  timelines: 'chat-timelines/',
  drafts: 'chat-drafts/',
} as const;

export class VaultDeviceStore implements DeviceStore {
  async loadDevice() {
    return (await vault.get<StoredDevice>(keys.device)) ?? null;
  }
  async saveDevice(device: StoredDevice) {
    await vault.put(keys.device, device);
  }
  async loadKeyPackages() {
    return (await vault.get<StoredKeyPackage[]>(keys.keyPackages)) ?? [];
  }
  async saveKeyPackages(packages: StoredKeyPackage[]) {
    await vault.put(keys.keyPackages, packages);
  }
  async listConversations() {
    const names = await vault.list(keys.conversations);
    // The vault may answer with whole keys or with what follows the prefix.
    return names.map((n) =>
      n.startsWith(keys.conversations) ? n.slice(keys.conversations.length) : n,
    );
  }
  async loadConversation(id: string) {
    return (await vault.get<ConversationRecord>(keys.conversations + checkStoreId(id))) ?? null;
  }
  async saveConversation(record: ConversationRecord) {
    await vault.put(keys.conversations + checkStoreId(record.id), record);
  }
  async loadTimeline(id: string) {
    return (await vault.get<Timeline>(keys.timelines + checkStoreId(id))) ?? null;
  }
  async saveTimeline(id: string, timeline: Timeline) {
    await vault.put(keys.timelines + checkStoreId(id), timeline);
  }
  async loadKnownKeys() {
    return (await vault.get<KnownKeys>(keys.knownKeys)) ?? {};
  }
  async saveKnownKeys(known: KnownKeys) {
    await vault.put(keys.knownKeys, known);
  }
}

/** Unsent text per conversation, kept (encrypted) across reloads and while offline. */
export const drafts = {
  async load(conversationId: string): Promise<string> {
    return (await vault.get<string>(keys.drafts + checkStoreId(conversationId))) ?? '';
  },
  async save(conversationId: string, text: string): Promise<void> {
    const key = keys.drafts + checkStoreId(conversationId);
    if (text.trim() === '') await vault.delete(key);
    else await vault.put(key, text);
  },
};
