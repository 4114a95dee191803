// STUB — replaced by the helper that owns this screen.
export default function BoardPage(_props: {
  project: import('../project/ProjectPage.tsx').ProjectInfo;
}) {
  return <p>BoardPage</p>;
}
