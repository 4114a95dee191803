// STUB — replaced by the helper that owns this screen.
export default function ChatPage(_props: {
  project: import('../project/ProjectPage.tsx').ProjectInfo;
  conversationId?: string | undefined;
}) {
  return <p>ChatPage</p>;
}
