/**
 * Who is signed in. Loaded once from `GET /v1/me`; screens read it through
 * `useSession()`. Signing out clears the in-memory offline key too, so the
 * encrypted store is closed with the session.
 */
import { createContext, type ReactNode, useCallback, useContext, useMemo, useState } from 'react';
import { api } from '../api/client.ts';

export interface Me {
  user: {
    id: string;
    displayName: string;
    username: string | null;
    email: string | null;
    isAdmin: boolean;
  };
  /** The person's home org (guests: the org whose project invited them). */
  orgId: string | null;
  orgRole: 'owner' | 'admin' | 'member' | 'guest' | null;
  methods: string[];
  stepUpAt: string | null;
  /** Whether this session satisfies the home org's policy, and if not, why. */
  policy: { satisfied: true } | { satisfied: false; rule: string; message: string };
}

interface SessionValue {
  me: Me;
  refresh: () => Promise<void>;
  signOut: () => Promise<void>;
}

const SessionContext = createContext<SessionValue | null>(null);

export function SessionProvider({
  initial,
  onSignedOut,
  children,
}: {
  initial: Me;
  onSignedOut: () => void;
  children: ReactNode;
}) {
  const [me, setMe] = useState(initial);
  const refresh = useCallback(async () => setMe(await api.get<Me>('/v1/me')), []);
  const signOut = useCallback(async () => {
    try {
      await api.post('/v1/auth/logout');
    } finally {
      onSignedOut();
    }
  }, [onSignedOut]);
  const value = useMemo(() => ({ me, refresh, signOut }), [me, refresh, signOut]);
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionValue {
  const value = useContext(SessionContext);
  if (!value) throw new Error('useSession outside a signed-in screen');
  return value;
}
