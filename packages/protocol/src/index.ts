export * from './auth.ts';
export * from './errors.ts';
export * from './realtime.ts';
export * from './sys.ts';

/** Version of the HTTP API paths (`/v1/...`). */
export const apiVersion = 'v1';
export * from './messaging.ts';
