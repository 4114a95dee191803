export interface StepUpRequest {
  resolve: (confirmed: boolean) => void;
}
export function StepUpDialog(_props: { request: StepUpRequest | null; onDone: () => void }) {
  return null;
}
