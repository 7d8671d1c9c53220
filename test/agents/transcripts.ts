// The shape of test/fixtures/transcripts/manifest.json, shared by the capture and the checks.

/** What a transcript must be read as; written to manifest.json for test/unit/transcripts.test.ts. */
export interface TranscriptExpectation {
  file: string;
  agent: 'claude' | 'codex' | 'command';
  scenario: string;
  /** Whether the process failed (non-zero exit or timeout): plain-text lines count as errors then. */
  failed: boolean;
  errorKind: string | null;
  errorIncludes?: string;
  textIncludes?: string;
  usage?: { inputTokens: number; outputTokens: number; costUsd?: number };
  /** Lines the readable rendering must contain. */
  renders: string[];
}

