// The `loopctl tail` text, shared by the oclif command and the fast path (no oclif here).
import { AgentOutputRenderer, stepHeader } from '../core/render/agent-output.js';
import { terminalSafe } from './text.js';

/**
 * Writes output chunks of one or more steps: rendered (a header line before each step's output)
 * or raw. Keeps a renderer per step, since a JSON event may be split across chunks.
 */
export class TailWriter {
  private stepId: number | null = null;
  private renderer: AgentOutputRenderer | null = null;
  private lastByte = '\n';

  constructor(
    private readonly raw: boolean,
    private readonly out: (s: string) => void,
  ) {}

  write(step: { stepId: number; iteration: number; phase: string; attempt?: number }, chunk: string): void {
    if (step.stepId !== this.stepId) {
      this.finishStep();
      this.stepId = step.stepId;
      if (!this.raw) {
        this.emit(`${this.lastByte === '\n' ? '' : '\n'}${stepHeader(step)}\n`);
        this.renderer = new AgentOutputRenderer();
      }
    }
    this.emit(this.raw || !this.renderer ? chunk : this.renderer.push(chunk));
  }

  /** Flushes what a renderer still holds and leaves the shell prompt on its own line. */
  end(): void {
    this.finishStep();
    if (this.lastByte !== '\n') this.emit('\n');
  }

  private finishStep(): void {
    if (this.renderer) this.emit(this.renderer.flush());
    this.renderer = null;
  }

  private emit(text: string): void {
    // Rendered output is for a terminal: nothing an agent printed may drive it (--raw is exact).
    const s = this.raw ? text : terminalSafe(text);
    if (s.length === 0) return;
    this.out(s);
    this.lastByte = s.slice(-1);
  }
}
