// STUB
export function InitScreen(_props: Record<string, unknown>) {
  return <p>InitScreen</p>;
}
