// Live output of a step from any host. The run directory is on the shared filesystem (the same
// path on every host), so any host can read the owner's output file; what a reader elsewhere lacks
// is the wake-up. The output stream wakes on this host's bus ('output': OutputNotice), which only
// the host running the agent emits. This module is that bridge, and the bus is the whole hook:
// - owner side: every local OutputNotice becomes a NOTIFY on `loopd_output` (at most one per step
//   per `throttleMs`, the last one always sent, so a reader is never left behind the file's end);
// - reader side: notices from other hosts are emitted on the local bus as if the step ran here.
// A notice lost while the listener reconnects costs a reader only its stream's own re-check
// interval; the file, not the notice, is what the stream reads.
import type { EventBus, OutputNotice } from '../bus.js';
import { openPool } from '../pg/connect.js';
import { listenChannel } from '../pg/listen.js';

export const OUTPUT_CHANNEL = 'loopd_output';

export interface OutputRelayOptions {
  url: string;
  hostId: string;
  bus: Pick<EventBus, 'on' | 'off' | 'outputGrew'>;
  throttleMs?: number;
  onError?: (e: unknown) => void;
}

export interface OutputRelay {
  close(): Promise<void>;
}

/** The NOTIFY payload: "<host> <runId> <stepId>" (ids never contain spaces). */
export function encodeNotice(hostId: string, n: OutputNotice): string {
  return `${hostId} ${n.runId} ${n.stepId}`;
}

export function decodeNotice(payload: string): { hostId: string; notice: OutputNotice } | null {
  const m = /^(\S+) (\S+) (\d+)$/.exec(payload);
  return m ? { hostId: m[1]!, notice: { runId: m[2]!, stepId: Number(m[3]) } } : null;
}

export async function startOutputRelay(o: OutputRelayOptions): Promise<OutputRelay> {
  const pool = openPool(o.url, 1);
  const throttleMs = o.throttleMs ?? 100;
  // Notices this relay put on the bus itself: never sent back out (no echo between hosts).
  const relayed = new WeakSet<OutputNotice>();
  const steps = new Map<number, { lastSent: number; trailing: NodeJS.Timeout | null; notice: OutputNotice }>();
  let closed = false;

  const send = (n: OutputNotice): void => {
    if (closed) return;
    pool.query('SELECT pg_notify($1, $2)', [OUTPUT_CHANNEL, encodeNotice(o.hostId, n)]).catch((e: unknown) => o.onError?.(e));
  };
  const onLocal = (n: OutputNotice): void => {
    if (relayed.has(n)) return;
    // Steps that went quiet need no entry; a long-lived daemon must not keep one per step ever run.
    if (steps.size > 256) {
      for (const [id, q] of steps) if (!q.trailing && Date.now() - q.lastSent >= throttleMs) steps.delete(id);
    }
    const s = steps.get(n.stepId) ?? { lastSent: 0, trailing: null, notice: n };
    steps.set(n.stepId, s);
    s.notice = n;
    const now = Date.now();
    if (now - s.lastSent >= throttleMs && !s.trailing) {
      s.lastSent = now;
      send(n);
      return;
    }
    s.trailing ??= setTimeout(() => {
      s.trailing = null;
      s.lastSent = Date.now();
      send(s.notice);
    }, Math.max(0, throttleMs - (now - s.lastSent)));
    s.trailing.unref();
  };

  let listening;
  try {
    listening = await listenChannel(o.url, OUTPUT_CHANNEL, {
      onNotify: (payload) => {
        const d = decodeNotice(payload);
        if (!d || d.hostId === o.hostId) return;
        relayed.add(d.notice);
        o.bus.outputGrew(d.notice);
      },
      ...(o.onError ? { onError: o.onError } : {}),
    });
  } catch (e) {
    await pool.end().catch(() => {});
    throw e;
  }
  o.bus.on('output', onLocal);
  const opened = listening;
  return {
    close: async () => {
      closed = true;
      o.bus.off('output', onLocal);
      for (const s of steps.values()) if (s.trailing) clearTimeout(s.trailing);
      steps.clear();
      await opened.close();
      await pool.end().catch(() => {});
    },
  };
}
