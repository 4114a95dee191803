/**
 * The one error catalogue. Every error the API returns carries one of these
 * stable codes; clients switch on `code`, people read `message`.
 * `httpStatus` is the single place where a code is mapped to HTTP.
 */
export const errorCatalogue = {
  bad_request: { httpStatus: 400, message: 'The request is malformed.' },
  not_found: { httpStatus: 404, message: 'No such resource.' },
  method_not_allowed: { httpStatus: 405, message: 'Method not allowed.' },
  payload_too_large: { httpStatus: 413, message: 'The request body is too large.' },
  unsupported_media_type: { httpStatus: 415, message: 'Send application/json.' },
  unauthenticated: { httpStatus: 401, message: 'Authentication is required.' },
  forbidden: { httpStatus: 403, message: 'Not allowed.' },
  rate_limited: { httpStatus: 429, message: 'Too many attempts; wait and try again.' },
  login_failed: {
    httpStatus: 401,
    message: 'Login failed: the account or the credential was not accepted.',
  },
  step_up_required: {
    httpStatus: 403,
    message: 'This action needs a fresh confirmation with your passkey or authenticator code.',
  },
  last_factor: {
    httpStatus: 409,
    message:
      'That is your last way to log in; add another before removing it (or ask an admin to reset the account).',
  },
  link_invalid: {
    httpStatus: 410,
    message: 'This link is not valid any more: it was used, expired or never existed.',
  },
  method_not_allowed_by_policy: {
    httpStatus: 403,
    message: 'The security policy does not allow this login method.',
  },
  sms_delivery_failed: {
    httpStatus: 502,
    message: 'The SMS code could not be sent; try again later or use another method.',
  },
  webauthn_failed: {
    httpStatus: 400,
    message: 'The passkey response was not accepted.',
  },
  policy_unsatisfied: {
    httpStatus: 403,
    message: 'This session does not satisfy the security policy that applies here.',
  },
  conflict: { httpStatus: 409, message: 'That conflicts with the current state.' },
  issue_link_required: {
    httpStatus: 400,
    message:
      'This project requires every change to cite one of its issues (header Bulwark-Issue: KEY-123).',
  },
  issue_link_invalid: { httpStatus: 400, message: 'That issue reference is not valid here.' },
  would_lock_out: {
    httpStatus: 409,
    message: 'Refused: this would leave no administrator able to sign in or manage it.',
  },
  epoch_conflict: {
    httpStatus: 409,
    message:
      'The conversation moved to a newer epoch: process the messages you have not seen yet, then rebuild this commit or message.',
  },
  removal_pending: {
    httpStatus: 409,
    message:
      'Members were removed from this conversation and no one has committed the removal yet: commit it first, then send.',
  },
  device_required: {
    httpStatus: 409,
    message:
      'This session has no messaging device: register one (or bind an existing one) before sending or receiving messages.',
  },
  device_not_verified: {
    httpStatus: 403,
    message:
      'This device has not been verified yet: verify it from another of your devices, or ask an administrator.',
  },
  key_packages_exhausted: {
    httpStatus: 409,
    message: 'A device has no key package left to add it with; it must upload more first.',
  },
  sealed: {
    httpStatus: 503,
    message: 'The server is sealed: unseal it with `bulwark unseal` before using it.',
  },
  not_initialized: {
    httpStatus: 503,
    message: 'The server is not initialised: run `bulwark init` first.',
  },
  already_initialized: {
    httpStatus: 409,
    message: 'This data directory is already initialised; refusing to touch it.',
  },
  already_unsealed: { httpStatus: 409, message: 'The server is already unsealed.' },
  unseal_failed: {
    httpStatus: 400,
    message:
      'Unseal failed: the passphrase is wrong. Nothing was changed; the server is still sealed.',
  },
  invalid_share: {
    httpStatus: 400,
    message: 'That is not a valid Bulwark unseal share.',
  },
  foreign_share: {
    httpStatus: 400,
    message: 'That share belongs to another Bulwark installation.',
  },
  duplicate_share: { httpStatus: 400, message: 'That share was already given.' },
  shares_mismatch: {
    httpStatus: 400,
    message:
      'The shares given do not unlock this installation; progress was reset. Nothing was changed; the server is still sealed.',
  },
  provider_not_configured: {
    httpStatus: 400,
    message: 'That unseal method is not configured for this installation.',
  },
  init_not_local: {
    httpStatus: 403,
    message: 'Initialisation is only accepted from the server machine itself (loopback).',
  },
  storage_corrupt: {
    httpStatus: 500,
    message:
      'The database is corrupt or truncated; restore it from a backup. Nothing was overwritten.',
  },
  storage_unavailable: { httpStatus: 503, message: 'The database cannot be reached.' },
  directory_unavailable: {
    httpStatus: 503,
    message: 'The directory (LDAP / Active Directory) cannot be reached; try again later.',
  },
  storage_mismatch: {
    httpStatus: 500,
    message: 'The database belongs to another Bulwark installation; refusing to use it.',
  },
  internal: { httpStatus: 500, message: 'Internal error.' },
} as const satisfies Record<string, { httpStatus: number; message: string }>;

export type ErrorCode = keyof typeof errorCatalogue;

export const errorCodes = Object.keys(errorCatalogue) as ErrorCode[];

/** The body of every error answer. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: unknown };
}
