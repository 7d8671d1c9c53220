-- loopd: foreign-keys-off
-- The phases a step may have become rows of step_phases, referenced by steps.phase, instead of a
-- CHECK on the column: a new phase is then one INSERT INTO step_phases migration, not a table
-- rebuild. This is the one rebuild that makes it so, done by SQLite's documented ALTER TABLE
-- procedure: the loader turns foreign keys off around this transaction (the "foreign-keys-off"
-- line above), the table is copied into its new shape, dropped, the copy renamed, the indexes made
-- again, and PRAGMA foreign_key_check runs before COMMIT. Rows, ids and the AUTOINCREMENT counter
-- are kept; merge_locks.step_id keeps referring to steps (by name).

CREATE TABLE step_phases (
  phase TEXT PRIMARY KEY
);
INSERT INTO step_phases (phase) VALUES ('implementation'), ('review'), ('verification'), ('watchdog'), ('merge');

CREATE TABLE new_steps (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id        TEXT NOT NULL REFERENCES runs (id),
  phase         TEXT NOT NULL REFERENCES step_phases (phase),
  status        TEXT NOT NULL CHECK (status IN ('QUEUED','IN_PROGRESS','SUCCEEDED','FAILED','CANCELED')),
  iteration     INTEGER NOT NULL,
  attempt       INTEGER NOT NULL DEFAULT 1,
  prompt_path   TEXT,
  output_path   TEXT,
  exit_code     INTEGER,
  result_json   TEXT,                                -- the handler's structured result
  error         TEXT,
  not_before    INTEGER,                             -- retry backoff: not claimable before this epoch ms
  lease_owner   TEXT,                                -- daemon instance that claimed it
  pid           INTEGER,
  pid_start     TEXT,                                -- /proc start time: guards against pid reuse
  pid_nonce     TEXT,
  exit_path     TEXT,
  process_json  TEXT,                                -- what a restarted daemon needs to re-adopt the process
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL,
  started_at    INTEGER,
  ended_at      INTEGER,
  cost_usd      REAL,                                -- 0003
  input_tokens  INTEGER,
  output_tokens INTEGER,
  cost_source   TEXT,
  input_json    TEXT                                 -- 0005: what the step was queued with
);

INSERT INTO new_steps (id, run_id, phase, status, iteration, attempt, prompt_path, output_path, exit_code, result_json, error, not_before,
  lease_owner, pid, pid_start, pid_nonce, exit_path, process_json, created_at, updated_at, started_at, ended_at,
  cost_usd, input_tokens, output_tokens, cost_source, input_json)
SELECT id, run_id, phase, status, iteration, attempt, prompt_path, output_path, exit_code, result_json, error, not_before,
  lease_owner, pid, pid_start, pid_nonce, exit_path, process_json, created_at, updated_at, started_at, ended_at,
  cost_usd, input_tokens, output_tokens, cost_source, input_json
FROM steps;

-- Ids never come back, even those of steps the old table had counted past.
DELETE FROM sqlite_sequence WHERE name = 'new_steps';
INSERT INTO sqlite_sequence (name, seq) SELECT 'new_steps', seq FROM sqlite_sequence WHERE name = 'steps';

DROP TABLE steps;
ALTER TABLE new_steps RENAME TO steps;
CREATE INDEX steps_run ON steps (run_id, id);
CREATE INDEX steps_status ON steps (status, id);
