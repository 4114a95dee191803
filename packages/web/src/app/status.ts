/**
 * What the person must be told about the connection to the server, whatever
 * screen they are on: offline, sealed, signed out, or held back by policy.
 * Set by the API client as answers (or failures) come in; read by the shell
 * through `useAppStatus`.
 */
import { useSyncExternalStore } from 'react';

export type Connectivity = 'online' | 'offline';

export interface AppStatus {
  connectivity: Connectivity;
  /** The server answered 503 sealed: an operator must unseal it. */
  sealed: boolean;
  /** Our session ended under us (revoked, expired, account disabled). */
  sessionEnded: boolean;
  /** The server's words when the session no longer satisfies a policy. */
  policyMessage: string | null;
}

let status: AppStatus = {
  connectivity:
    typeof navigator !== 'undefined' && navigator.onLine === false ? 'offline' : 'online',
  sealed: false,
  sessionEnded: false,
  policyMessage: null,
};
const listeners = new Set<() => void>();

export function getAppStatus(): AppStatus {
  return status;
}

export function updateAppStatus(change: Partial<AppStatus>): void {
  const next = { ...status, ...change };
  if (
    next.connectivity === status.connectivity &&
    next.sealed === status.sealed &&
    next.sessionEnded === status.sessionEnded &&
    next.policyMessage === status.policyMessage
  )
    return;
  status = next;
  for (const listener of listeners) listener();
}

export function subscribeAppStatus(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function useAppStatus(): AppStatus {
  return useSyncExternalStore(subscribeAppStatus, getAppStatus, getAppStatus);
}
