// STUB
export function UnsealScreen(_props: Record<string, unknown>) {
  return <p>UnsealScreen</p>;
}
