-- Coordination that used to live in one daemon's memory, so a restart (or another host) sees it.

-- A rate-limit hold per agent kind: no step of that kind starts before `until`.
CREATE TABLE agent_holds (
  agent       TEXT PRIMARY KEY,
  until       INTEGER NOT NULL,
  run_id      TEXT,
  step_id     INTEGER,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
);

-- Merges into one target branch of one workspace run one at a time: the row names the merging step.
CREATE TABLE merge_locks (
  workspace_root  TEXT NOT NULL,
  target_branch   TEXT NOT NULL,
  step_id         INTEGER NOT NULL UNIQUE REFERENCES steps (id),
  created_at      INTEGER NOT NULL,
  PRIMARY KEY (workspace_root, target_branch)
);

-- The file work after a run ended (summary, mirror, cleanup) is owed until finalized_at is set.
-- Runs that ended before this migration were finalized by the daemon that ended them (or are
-- re-checked by their summary.json as before).
ALTER TABLE runs ADD COLUMN finalized_at INTEGER;
UPDATE runs SET finalized_at = COALESCE(ended_at, updated_at) WHERE status IN ('COMPLETED', 'FAILED', 'CANCELED');
CREATE INDEX runs_to_finalize ON runs (status) WHERE finalized_at IS NULL;

-- What a step was queued with (the watchdog's signals), so it does not re-derive its input.
ALTER TABLE steps ADD COLUMN input_json TEXT;
