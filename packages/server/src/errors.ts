import { type ErrorCode, errorCatalogue } from '@bulwark/protocol';

/**
 * The one error type the server throws on purpose. `code` is from the
 * protocol's catalogue (clients switch on it); `message` is for people and
 * never holds a secret. The HTTP layer maps it in one place.
 */
export class BulwarkError extends Error {
  override name = 'BulwarkError';
  readonly code: ErrorCode;
  readonly details: unknown;

  constructor(code: ErrorCode, message?: string, details?: unknown) {
    super(message ?? errorCatalogue[code].message);
    this.code = code;
    this.details = details;
  }

  get httpStatus(): number {
    return errorCatalogue[this.code].httpStatus;
  }
}
