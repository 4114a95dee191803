// STUB
import type { Me } from '../../app/session.tsx';
export function OfflineStartScreen(_props: {
  message: string;
  onRetry: () => void;
  onOpened: (me: Me) => void;
}) {
  return <p>OfflineStartScreen</p>;
}
