// One LISTEN connection that survives the server going away: on a lost connection it listens again
// on a new one after a pause, and calls onConnected each time, so the caller catches up on what it
// may have missed (a notification is only a wake-up; the truth is always read from the tables).
import pg from 'pg';

export interface Listening {
  close(): Promise<void>;
}

export async function listenChannel(
  url: string,
  channel: string,
  o: { onNotify: (payload: string) => void; onConnected?: () => void; onError?: (e: unknown) => void; reconnectMs?: number },
): Promise<Listening> {
  if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`not a channel name: ${channel}`);
  let closed = false;
  let current: pg.Client | null = null;
  const connect = async (first: boolean): Promise<void> => {
    const c = new pg.Client({ connectionString: url, application_name: `loopd-${channel}` });
    let gone = false;
    const lost = (e?: unknown): void => {
      if (gone) return;
      gone = true;
      if (current === c) current = null;
      if (e && !closed) o.onError?.(e);
      void c.end().catch(() => {});
      if (!closed) setTimeout(() => void connect(false), o.reconnectMs ?? 1000).unref();
    };
    c.on('notification', (n) => o.onNotify(n.payload ?? ''));
    c.on('error', lost);
    c.on('end', () => lost());
    current = c;
    try {
      await c.connect();
      await c.query(`LISTEN ${channel}`);
    } catch (e) {
      if (!first) return lost(e);
      gone = true;
      current = null;
      await c.end().catch(() => {});
      throw e;
    }
    o.onConnected?.();
  };
  await connect(true);
  return {
    close: async () => {
      closed = true;
      const c = current;
      current = null;
      await c?.end().catch(() => {});
    },
  };
}
