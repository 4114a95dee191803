/**
 * Passkey ceremonies in the browser with the WebAuthn JSON helpers, plus the
 * PRF extension: the authenticator derives a secret from a fixed salt that
 * only this credential can reproduce. That secret becomes the key of the
 * encrypted offline store (src/offline); it never leaves the page — it is
 * removed from the extension results before anything goes to the server.
 */

/** The PRF input: fixed, so the same passkey yields the same secret each time. */
/** credential.toJSON(): the WebAuthn JSON form the server verifies. */
export type PublicKeyCredentialJSON = AuthenticationResponseJSON | RegistrationResponseJSON;

const prfSaltLabel = 'bulwark offline store v1';

async function prfSalt(): Promise<ArrayBuffer> {
  return crypto.subtle.digest('SHA-256', new TextEncoder().encode(prfSaltLabel));
}

export interface AssertionResult {
  /** credential.toJSON() minus any PRF output: what the server may see. */
  response: PublicKeyCredentialJSON;
  credentialId: string;
  /** 32 bytes from the passkey's PRF, or null when the authenticator has none. */
  prfSecret: Uint8Array | null;
}

function stripPrf(json: PublicKeyCredentialJSON): PublicKeyCredentialJSON {
  const copy = structuredClone(json) as PublicKeyCredentialJSON & {
    clientExtensionResults?: Record<string, unknown>;
  };
  if (copy.clientExtensionResults) delete copy.clientExtensionResults.prf;
  return copy;
}

function prfOutput(credential: PublicKeyCredential): Uint8Array | null {
  const results = credential.getClientExtensionResults() as {
    prf?: { enabled?: boolean; results?: { first?: BufferSource } };
  };
  const first = results.prf?.results?.first;
  if (!first) return null;
  return first instanceof ArrayBuffer
    ? new Uint8Array(first)
    : new Uint8Array(first.buffer, first.byteOffset, first.byteLength);
}

/** Sign in, step up or unlock: `navigator.credentials.get` with the server's options and PRF. */
export async function getAssertion(
  optionsJson: PublicKeyCredentialRequestOptionsJSON,
): Promise<AssertionResult> {
  const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(optionsJson);
  publicKey.extensions = {
    ...(publicKey.extensions ?? {}),
    prf: { eval: { first: await prfSalt() } },
  } as AuthenticationExtensionsClientInputs;
  const credential = (await navigator.credentials.get({ publicKey })) as PublicKeyCredential | null;
  if (!credential) throw new DOMException('No passkey was chosen.', 'NotAllowedError');
  return {
    response: stripPrf(credential.toJSON()),
    credentialId: credential.id,
    prfSecret: prfOutput(credential),
  };
}

/**
 * Unlock the offline store without the server (it may be unreachable): a
 * local challenge, the given credentials, only the PRF output is used.
 */
export async function prfWithoutServer(credentialIds: string[]): Promise<AssertionResult> {
  const challenge = crypto.getRandomValues(new Uint8Array(32));
  return getAssertion({
    challenge: base64url(challenge),
    rpId: location.hostname,
    allowCredentials: credentialIds.map((id) => ({ id, type: 'public-key' })),
    userVerification: 'required',
    timeout: 120_000,
  });
}

/** Register a passkey with the server's creation options; asks for PRF support. */
export async function createCredential(
  optionsJson: PublicKeyCredentialCreationOptionsJSON,
): Promise<{ response: PublicKeyCredentialJSON; prfEnabled: boolean }> {
  const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(optionsJson);
  publicKey.extensions = {
    ...(publicKey.extensions ?? {}),
    prf: {},
  } as AuthenticationExtensionsClientInputs;
  const credential = (await navigator.credentials.create({
    publicKey,
  })) as PublicKeyCredential | null;
  if (!credential) throw new DOMException('No passkey was created.', 'NotAllowedError');
  const results = credential.getClientExtensionResults() as { prf?: { enabled?: boolean } };
  return { response: stripPrf(credential.toJSON()), prfEnabled: results.prf?.enabled === true };
}

export function base64url(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function fromBase64url(text: string): Uint8Array {
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

export function passkeysSupported(): boolean {
  return (
    typeof PublicKeyCredential !== 'undefined' &&
    'parseRequestOptionsFromJSON' in PublicKeyCredential
  );
}
