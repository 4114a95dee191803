/**
 * Every error this package throws, in one place (CONVENTIONS §8). Callers
 * switch on `code`; `message` is a sentence for people. Decryption and
 * verification failures always throw, never return null (CONVENTIONS §11).
 */

export abstract class BulwarkCryptoError extends Error {
  abstract readonly code: string;
}

/** Why wire bytes were refused; the server maps these to its own error catalogue. */
export type MlsWireErrorReason =
  /** The bytes do not decode as the expected MLS structure (or carry trailing bytes). */
  | 'malformed'
  /** Well-formed MLS, but a ciphersuite, credential or wire format Bulwark does not use. */
  | 'unsupported'
  /** Well-formed MLS that Bulwark's rules forbid (private handshake, external join, …). */
  | 'refused';

/** Thrown by the server-side inspectors for anything that is not acceptable MLS input. */
export class MlsWireError extends BulwarkCryptoError {
  readonly code = 'mls_wire';
  readonly reason: MlsWireErrorReason;
  constructor(reason: MlsWireErrorReason, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'MlsWireError';
    this.reason = reason;
  }
}

export type MlsGroupErrorCode =
  /** The bytes are not a decodable MLS message of the expected kind. */
  | 'malformed'
  /** The message belongs to another group. */
  | 'wrong_group'
  /** From an epoch this device has moved past and holds no keys for (for a commit: rebase). */
  | 'stale_epoch'
  /** From an epoch this device has not reached yet: process the missing commits first. */
  | 'future_epoch'
  /** AEAD or signature check failed: tampered, or not encrypted to this device. */
  | 'decrypt_failed'
  /** This message generation was already decrypted (replay) or its key has been deleted. */
  | 'replayed'
  /** Valid MLS that Bulwark's rules forbid (private handshake, non-Remove external proposal, …). */
  | 'forbidden'
  /** The authentication service refused a credential (unknown or revoked device). */
  | 'unknown_device'
  /** A commit or welcome failed RFC 9420 validation. */
  | 'invalid_commit'
  /** This device has been removed from the group. */
  | 'removed'
  /** Proposals are waiting to be committed; commit them (commitPending) before sending. */
  | 'pending_proposals'
  /** A key package to add is malformed, expired, or for another ciphersuite. */
  | 'invalid_key_package'
  /** No unused private key package of this device matches the welcome. */
  | 'no_matching_key_package'
  /** Serialized group state could not be read. */
  | 'invalid_state';

/** Thrown by the member-side group engine. `cause` carries the ts-mls error, if any. */
export class MlsGroupError extends BulwarkCryptoError {
  readonly code: MlsGroupErrorCode;
  constructor(code: MlsGroupErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'MlsGroupError';
    this.code = code;
  }
}

/** A message payload (the plaintext inside an application message) failed validation. */
export class ContentError extends BulwarkCryptoError {
  readonly code = 'invalid_content';
  /** Where in the payload the problem is, e.g. `body.text`. */
  readonly path: string;
  constructor(path: string, message: string) {
    super(`${path}: ${message}`);
    this.name = 'ContentError';
    this.path = path;
  }
}

/** An attachment's ciphertext does not match its hash or fails AEAD authentication. */
export class AttachmentError extends BulwarkCryptoError {
  readonly code = 'attachment_tampered';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'AttachmentError';
  }
}

/** Stored key material (an exported identity or key package) could not be read. */
export class KeyImportError extends BulwarkCryptoError {
  readonly code = 'invalid_key_material';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'KeyImportError';
  }
}

/** A scanned safety-number QR payload is not one of ours. */
export class SafetyNumberError extends BulwarkCryptoError {
  readonly code = 'invalid_safety_number_payload';
  constructor(message: string) {
    super(message);
    this.name = 'SafetyNumberError';
  }
}
