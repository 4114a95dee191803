/**
 * @bulwark/chat: one messaging device's client, platform-neutral (WebCrypto,
 * no Node built-ins), shared by the CLI (`bulwark chat`) and the web client.
 * A platform supplies three seams: a `DeviceStore` (where the device's
 * secrets and state live), a `FetchLike` (HTTP) and a `WsFactory` (the
 * device socket). See docs/messaging.md.
 */
export { fromBase64Url, sha256Hex, toBase64Url } from './bytes.ts';
export { createCryptoEngine } from './crypto-engine.ts';
export type { KeyChange } from './device-directory.ts';
export {
  type ConversationMeta,
  type ConversationRecord,
  checkStoreId,
  type DeviceStore,
  emptyConversation,
  type KnownKeys,
  type Member,
  MemoryDeviceStore,
  type OwnSend,
  type PendingCommit,
  type StoredDevice,
  type StoredKeyPackage,
} from './device-store.ts';
export { ApiError, TransportError } from './errors.ts';
export { type ChatEvent, ChatEvents, type ChatListener, type WarningKind } from './events.ts';
export { encodeClientFrame, isRecord, parseServerFrame, readDelivery } from './frames.ts';
export {
  type FetchAnswer,
  type FetchLike,
  type HttpOptions,
  MessagingHttp,
  maxAttachmentBytes,
} from './http.ts';
export {
  ChatError,
  type DeviceInfo,
  MessagingClient,
  type MessagingClientOptions,
} from './messaging-client.ts';
export type { MlsEngine } from './mls-engine.ts';
export {
  type CloseDisposition,
  closeDisposition,
  DeviceSocket,
  type DeviceSocketOptions,
  reconnectDelay,
  refusalDisposition,
  type SocketHandlers,
  sessionEndedCloseCode,
  type WsFactory,
  type WsLike,
} from './socket.ts';
export {
  addNotice,
  applyContent,
  emptyTimeline,
  type NoticeEntry,
  type NoticeKind,
  type Timeline,
  type TimelineChange,
  type TimelineItem,
  timelineItems,
} from './timeline.ts';
