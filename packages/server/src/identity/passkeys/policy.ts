/**
 * Which authenticators may register (SECURITY.md, Authentication: "policies
 * can allow-list authenticator AAGUIDs"). Applied at registration only: a
 * credential already registered is not re-judged at each login.
 */
export interface PasskeyPolicy {
  /** When non-empty, only these AAGUIDs may register. */
  allowedAaguids?: string[];
  /** Never allowed; wins over the allow-list. */
  deniedAaguids?: string[];
  /** Refuse backup-eligible (synced, multiDevice) credentials: hardware-bound keys only. */
  requireHardwareBound?: boolean;
}

export const permissivePasskeyPolicy: PasskeyPolicy = {};

export interface RegisteredAuthenticator {
  aaguid: string;
  deviceType: 'singleDevice' | 'multiDevice';
  backedUp: boolean;
}

export type PolicyDecision = { allowed: true } | { allowed: false; reason: string };

const normalise = (aaguid: string) => aaguid.trim().toLowerCase();

export function checkPasskeyPolicy(
  policy: PasskeyPolicy,
  authenticator: RegisteredAuthenticator,
): PolicyDecision {
  const aaguid = normalise(authenticator.aaguid);
  if ((policy.deniedAaguids ?? []).some((a) => normalise(a) === aaguid)) {
    return {
      allowed: false,
      reason: 'this kind of authenticator is not allowed by the security policy',
    };
  }
  const allowed = policy.allowedAaguids ?? [];
  if (allowed.length > 0 && !allowed.some((a) => normalise(a) === aaguid)) {
    return {
      allowed: false,
      reason: 'the security policy allows only specific authenticator models',
    };
  }
  // A backed-up or backup-eligible credential can be copied to other devices
  // (a synced passkey): the key is not bound to one piece of hardware.
  if (
    policy.requireHardwareBound &&
    (authenticator.deviceType === 'multiDevice' || authenticator.backedUp)
  ) {
    return {
      allowed: false,
      reason: 'the security policy requires a hardware-bound key; synced passkeys are not allowed',
    };
  }
  return { allowed: true };
}
