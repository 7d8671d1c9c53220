// Live output from any host: the owner's local output notices reach the other hosts' buses (the
// output stream's wake-up), throttled per step with the last one always sent, and never echoed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventBus, type OutputNotice } from '../../host/bus.js';
import { decodeNotice, encodeNotice, startOutputRelay } from '../../host/cluster/output-relay.js';
import { freshDatabase } from './db.js';

let url: string;
let drop: () => Promise<void>;
beforeAll(async () => {
  ({ url, drop } = await freshDatabase());
});
afterAll(async () => drop());

function collect(bus: EventBus): OutputNotice[] {
  const seen: OutputNotice[] = [];
  bus.on('output', (n: OutputNotice) => seen.push(n));
  return seen;
}

function next(bus: EventBus, match: (n: OutputNotice) => boolean): Promise<void> {
  return new Promise((res) => {
    const on = (n: OutputNotice) => {
      if (!match(n)) return;
      bus.off('output', on);
      res();
    };
    bus.on('output', on);
  });
}

describe('the output relay', () => {
  it('encodes and decodes a notice, and refuses anything else', () => {
    expect(decodeNotice(encodeNotice('host-1', { runId: 'r-1', stepId: 42 }))).toEqual({ hostId: 'host-1', notice: { runId: 'r-1', stepId: 42 } });
    expect(decodeNotice('junk')).toBeNull();
  });

  it("wakes readers on other hosts for the owner's step, throttled, the last notice always sent, with no echo", async () => {
    const owner = new EventBus();
    const reader = new EventBus();
    const third = new EventBus();
    const relays = await Promise.all([
      startOutputRelay({ url, hostId: 'owner', bus: owner, throttleMs: 10_000 }),
      startOutputRelay({ url, hostId: 'reader', bus: reader }),
      startOutputRelay({ url, hostId: 'third', bus: third }),
    ]);
    try {
      const atOwner = collect(owner);
      const atReader = collect(reader);
      const first = next(reader, (n) => n.stepId === 7);
      owner.outputGrew({ runId: 'run-a', stepId: 7 });
      await first;
      // Within the throttle window more growth makes exactly one trailing notice, sent when the
      // window ends; a reader on the third host wakes for the other step at once.
      owner.outputGrew({ runId: 'run-a', stepId: 7 });
      owner.outputGrew({ runId: 'run-a', stepId: 7 });
      const other = next(third, (n) => n.stepId === 8);
      owner.outputGrew({ runId: 'run-b', stepId: 8 });
      await other;
      expect(atReader.filter((n) => n.stepId === 7)).toHaveLength(1);
      // Nothing the readers received went back out: the owner's bus holds only its own notices.
      expect(atOwner).toHaveLength(4);
    } finally {
      for (const r of relays) await r.close();
    }
  });

  it('sends the trailing notice of a burst', async () => {
    const owner = new EventBus();
    const reader = new EventBus();
    const relays = await Promise.all([startOutputRelay({ url, hostId: 'o2', bus: owner, throttleMs: 50 }), startOutputRelay({ url, hostId: 'r2', bus: reader })]);
    try {
      const atReader = collect(reader);
      let wakes = 0;
      const two = new Promise<void>((res) =>
        reader.on('output', (n: OutputNotice) => {
          if (n.stepId === 9 && ++wakes === 2) res();
        }),
      );
      for (let i = 0; i < 5; i++) owner.outputGrew({ runId: 'run-c', stepId: 9 });
      await two;
      expect(atReader.filter((n) => n.stepId === 9).length).toBeGreaterThanOrEqual(2);
    } finally {
      for (const r of relays) await r.close();
    }
  });
});
