export interface FakeApi {
  url: string;
  port: number;
  state: { scenario: string; requests: { method?: string; url?: string; scenario: string }[] };
  setScenario(s: string): void;
  close(): Promise<void>;
}
export function startFakeApi(opts?: { scenario?: string; port?: number; log?: ((m: string) => void) | null }): Promise<FakeApi>;
