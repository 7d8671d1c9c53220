/** A one-shot wake-up that never misses a poke made between reset() and wait(). */
export class Waiter {
  private dirty = false;
  private resolveFn: (() => void) | null = null;
  constructor(private readonly signal: AbortSignal) {
    signal.addEventListener('abort', () => this.poke(), { once: true });
  }
  reset(): void {
    this.dirty = false;
  }
  poke(): void {
    this.dirty = true;
    const r = this.resolveFn;
    this.resolveFn = null;
    r?.();
  }
  wait(maxMs: number): Promise<void> {
    if (this.dirty || this.signal.aborted) return Promise.resolve();
    return new Promise((res) => {
      const t = setTimeout(() => {
        this.resolveFn = null;
        res();
      }, maxMs);
      this.resolveFn = () => {
        clearTimeout(t);
        res();
      };
    });
  }
}
