// Serialization of the trigger's decisions: one promise chain per file, so two events of one save
// are decided one after the other and the second sees what the first recorded. Counts what is in
// flight, so tests and shutdown can wait for quiet instead of sleeping.
export class DecisionChains {
  /** Per key tail of the decision chain. */
  private readonly chains = new Map<string, Promise<void>>();
  private inflight = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly onError: (key: string, e: unknown) => void) {}

  /** Runs fn after every earlier decision with the same key; counts it for idle(). */
  enqueue<T>(key: string, fn: () => Promise<T>): Promise<T | undefined> {
    this.inflight++;
    const run = (this.chains.get(key) ?? Promise.resolve()).then(fn).catch((e: unknown) => {
      // A bug or a closed store must not break the chain for the next event of this file.
      this.onError(key, e);
      return undefined;
    });
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.chains.set(key, tail);
    void tail.then(() => {
      if (this.chains.get(key) === tail) this.chains.delete(key);
      this.inflight--;
      if (this.inflight === 0) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const w of waiters) w();
      }
    });
    return run;
  }

  /** Resolves once no decision is in progress or waiting. */
  idle(): Promise<void> {
    if (this.inflight === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** Settles once every chain started so far has. */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.chains.values()]);
  }
}
