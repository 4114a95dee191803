/** The server answered with an error body `{ error: { code, message } }`. */
export class ApiError extends Error {
  /** A code of the protocol's error catalogue (or one this client does not know yet). */
  readonly code: string;
  readonly httpStatus: number;
  constructor(code: string, message: string, httpStatus: number) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.httpStatus = httpStatus;
  }
}

/** No usable answer: the connection, TLS or the answer's shape failed. */
export class TransportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TransportError';
  }
}
