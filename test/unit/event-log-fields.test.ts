// The daemon's log line per event: this host's events at info (warn for failures), another host's
// events relayed into this host's bus at debug, marked with the host that wrote them.
import { describe, expect, it } from 'vitest';
import { eventLogFields } from '../../host/main.js';

const ev = { seq: 7, run_id: 'r1', step_id: 3, workspace_root: '/ws', type: 'STEP_FAILED', ts: 1, payload_json: '{"error":"boom"}' };

describe('eventLogFields', () => {
  it("logs this host's events at info, failures at warn, with the event's ids and data", () => {
    expect(eventLogFields({ ...ev, type: 'STEP_STARTED' })).toMatchObject({ level: 'info', runId: 'r1', stepId: 3, seq: 7 });
    expect(eventLogFields(ev)).toEqual({ level: 'warn', runId: 'r1', stepId: 3, workspace: '/ws', seq: 7, data: { error: 'boom' } });
  });

  it("logs another host's relayed events at debug, with the writer", () => {
    expect(eventLogFields({ ...ev, relayed_from: 'host-b' })).toEqual({ level: 'debug', runId: 'r1', stepId: 3, workspace: '/ws', seq: 7, relayedFrom: 'host-b', data: { error: 'boom' } });
  });
});
