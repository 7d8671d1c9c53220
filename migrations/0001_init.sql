-- loopd initial schema. Released migrations are never edited; add a new numbered file instead.

CREATE TABLE workspaces (
  root        TEXT PRIMARY KEY,
  watched     INTEGER NOT NULL DEFAULT 0,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
);

CREATE TABLE runs (
  id                   TEXT PRIMARY KEY,            -- UUIDv7
  name                 TEXT NOT NULL,
  name_source          TEXT NOT NULL CHECK (name_source IN ('spec_slug','haiku','explicit')),
  status               TEXT NOT NULL CHECK (status IN ('PENDING','RUNNING','PAUSED','COMPLETED','FAILED','CANCELED')),
  workspace_root       TEXT NOT NULL,
  spec_path            TEXT NOT NULL,               -- relative to workspace_root
  plan_path            TEXT,                        -- relative to workspace_root, NULL = plan-less
  base_branch          TEXT NOT NULL,
  run_branch           TEXT NOT NULL,
  merge_target_branch  TEXT,                        -- NULL when merge_strategy = none
  merge_strategy       TEXT NOT NULL CHECK (merge_strategy IN ('none','merge','squash')),
  worktree_path        TEXT NOT NULL,
  worktree_provider    TEXT NOT NULL,
  config_json          TEXT NOT NULL,               -- resolved config, frozen at creation
  origin               TEXT NOT NULL CHECK (origin IN ('cli','watch','api')),
  run_dir              TEXT NOT NULL,               -- primary artifact dir (workspace, or global)
  global_run_dir       TEXT,                        -- global mirror, NULL when artifact_mode=workspace
  exit_reason          TEXT,
  last_error           TEXT,
  cancel_requested     INTEGER NOT NULL DEFAULT 0,
  pause_reason         TEXT,                        -- why a PAUSED run is paused (user, budget_exceeded)
  cost_usd             REAL NOT NULL DEFAULT 0,
  input_tokens         INTEGER NOT NULL DEFAULT 0,
  output_tokens        INTEGER NOT NULL DEFAULT 0,
  created_at           INTEGER NOT NULL,
  updated_at           INTEGER NOT NULL,
  started_at           INTEGER,
  ended_at             INTEGER
);
CREATE UNIQUE INDEX runs_run_branch ON runs (workspace_root, run_branch);
CREATE INDEX runs_status ON runs (status, created_at);
CREATE INDEX runs_name ON runs (name);

CREATE TABLE steps (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id        TEXT NOT NULL REFERENCES runs (id),
  phase         TEXT NOT NULL CHECK (phase IN ('implementation','review','verification','watchdog','merge')),
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
  ended_at      INTEGER
);
CREATE INDEX steps_run ON steps (run_id, id);
CREATE INDEX steps_status ON steps (status, id);

CREATE TABLE events (
  seq           INTEGER PRIMARY KEY AUTOINCREMENT,   -- resume cursor for SSE
  run_id        TEXT,
  step_id       INTEGER,
  workspace_root TEXT,                               -- set for workspace-level events (trigger decisions)
  type          TEXT NOT NULL,
  ts            INTEGER NOT NULL,
  payload_json  TEXT NOT NULL DEFAULT '{}',
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL
);
CREATE INDEX events_run ON events (run_id, seq);
CREATE INDEX events_workspace ON events (workspace_root, seq);

CREATE TABLE artifacts (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id      TEXT NOT NULL REFERENCES runs (id),
  step_id     INTEGER,
  kind        TEXT NOT NULL,
  location    TEXT NOT NULL CHECK (location IN ('workspace','global')),
  path        TEXT NOT NULL,
  checksum    TEXT NOT NULL,
  bytes       INTEGER NOT NULL,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  UNIQUE (run_id, location, path)
);

CREATE TABLE spec_files (
  workspace_root  TEXT NOT NULL REFERENCES workspaces (root),
  path            TEXT NOT NULL,
  content_hash    TEXT NOT NULL,
  status          TEXT NOT NULL,
  last_run_id     TEXT,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  PRIMARY KEY (workspace_root, path)
);
