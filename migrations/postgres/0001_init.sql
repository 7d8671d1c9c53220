-- loopd's schema on PostgreSQL, for several hosts sharing one database. The tables mirror the
-- SQLite schema (migrations/0001..0004) so the store interface reads the same rows from either;
-- what is new here is what only a cluster needs: hosts, step leases with an epoch, and the
-- database clock. Released migrations are never edited; add a new numbered file instead.

-- One clock for the whole cluster: leases are compared against the database's time, never a
-- host's, so a host with a skewed clock can neither steal a live lease nor keep a dead one.
CREATE FUNCTION loopd_now_ms() RETURNS BIGINT LANGUAGE sql VOLATILE AS
  $$ SELECT (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT $$;

CREATE TABLE hosts (
  id            TEXT PRIMARY KEY,              -- stable per machine + LOOPD_HOME (survives restarts)
  hostname      TEXT NOT NULL,
  address       TEXT,                          -- where its API listens, for loopctl and the owner-host fallback
  agents        TEXT[] NOT NULL DEFAULT '{}',  -- agent kinds whose binary this host has
  workspaces    TEXT[] NOT NULL DEFAULT '{}',  -- workspace roots it can reach (same path on every host)
  max_concurrency INTEGER NOT NULL,
  lease_ttl_ms  BIGINT NOT NULL,
  started_at    BIGINT NOT NULL,
  heartbeat_at  BIGINT NOT NULL,
  stopped_at    BIGINT                         -- set on a clean shutdown
);

CREATE TABLE workspaces (
  root        TEXT PRIMARY KEY,
  watched     INTEGER NOT NULL DEFAULT 0,
  created_at  BIGINT NOT NULL,
  updated_at  BIGINT NOT NULL
);

CREATE TABLE runs (
  id                   TEXT PRIMARY KEY,
  name                 TEXT NOT NULL,
  name_source          TEXT NOT NULL CHECK (name_source IN ('spec_slug','haiku','explicit')),
  status               TEXT NOT NULL CHECK (status IN ('PENDING','RUNNING','PAUSED','COMPLETED','FAILED','CANCELED')),
  workspace_root       TEXT NOT NULL,
  spec_path            TEXT NOT NULL,
  plan_path            TEXT,
  base_branch          TEXT NOT NULL,
  run_branch           TEXT NOT NULL,
  merge_target_branch  TEXT,
  merge_strategy       TEXT NOT NULL CHECK (merge_strategy IN ('none','merge','squash')),
  worktree_path        TEXT NOT NULL,
  worktree_provider    TEXT NOT NULL,
  agent                TEXT NOT NULL,               -- the agent kind; a host without it never claims its steps
  config_json          TEXT NOT NULL,
  origin               TEXT NOT NULL CHECK (origin IN ('cli','watch','api')),
  run_dir              TEXT NOT NULL,
  global_run_dir       TEXT,
  exit_reason          TEXT,
  last_error           TEXT,
  cancel_requested     INTEGER NOT NULL DEFAULT 0,
  pause_reason         TEXT,
  cost_usd             DOUBLE PRECISION NOT NULL DEFAULT 0,
  input_tokens         BIGINT NOT NULL DEFAULT 0,
  output_tokens        BIGINT NOT NULL DEFAULT 0,
  created_at           BIGINT NOT NULL,
  updated_at           BIGINT NOT NULL,
  started_at           BIGINT,
  ended_at             BIGINT,
  finalized_at         BIGINT                       -- file work after the end (summary, mirror, cleanup) done; NULL while owed
);
CREATE INDEX runs_to_finalize ON runs (status) WHERE finalized_at IS NULL;
CREATE UNIQUE INDEX runs_run_branch ON runs (workspace_root, run_branch);
CREATE INDEX runs_status ON runs (status, created_at);
CREATE INDEX runs_name ON runs (name);

CREATE TABLE steps (
  id            BIGSERIAL PRIMARY KEY,
  run_id        TEXT NOT NULL REFERENCES runs (id),
  phase         TEXT NOT NULL,
  status        TEXT NOT NULL CHECK (status IN ('QUEUED','IN_PROGRESS','SUCCEEDED','FAILED','CANCELED')),
  iteration     INTEGER NOT NULL,
  attempt       INTEGER NOT NULL DEFAULT 1,
  input_json    TEXT,                                -- what the step needs, carried instead of re-derived
  prompt_path   TEXT,
  output_path   TEXT,
  exit_code     INTEGER,
  result_json   TEXT,
  error         TEXT,
  not_before    BIGINT,
  lease_owner   TEXT,                                -- host id holding the lease (NULL when none)
  lease_epoch   BIGINT NOT NULL DEFAULT 0,           -- bumped at every claim; every write carries it
  lease_expires_at BIGINT,                           -- database clock (loopd_now_ms)
  pid           INTEGER,
  pid_start     TEXT,
  pid_nonce     TEXT,
  exit_path     TEXT,
  process_json  TEXT,
  cost_usd      DOUBLE PRECISION,
  input_tokens  BIGINT,
  output_tokens BIGINT,
  cost_source   TEXT,
  created_at    BIGINT NOT NULL,
  updated_at    BIGINT NOT NULL,
  started_at    BIGINT,
  ended_at      BIGINT
);
CREATE INDEX steps_run ON steps (run_id, id);
CREATE INDEX steps_queued ON steps (id) WHERE status = 'QUEUED';
CREATE INDEX steps_leases ON steps (lease_owner, lease_expires_at) WHERE status = 'IN_PROGRESS';

CREATE TABLE events (
  seq            BIGSERIAL PRIMARY KEY,
  run_id         TEXT,
  step_id        BIGINT,
  workspace_root TEXT,
  host_id        TEXT,                              -- which host recorded it
  type           TEXT NOT NULL,
  ts             BIGINT NOT NULL,
  payload_json   TEXT NOT NULL DEFAULT '{}',
  created_at     BIGINT NOT NULL,
  updated_at     BIGINT NOT NULL
);
CREATE INDEX events_run ON events (run_id, seq);
CREATE INDEX events_workspace ON events (workspace_root, seq);

CREATE TABLE artifacts (
  id          BIGSERIAL PRIMARY KEY,
  run_id      TEXT NOT NULL REFERENCES runs (id),
  step_id     BIGINT,
  kind        TEXT NOT NULL,
  location    TEXT NOT NULL CHECK (location IN ('workspace','global')),
  path        TEXT NOT NULL,
  checksum    TEXT NOT NULL,
  bytes       BIGINT NOT NULL,
  created_at  BIGINT NOT NULL,
  updated_at  BIGINT NOT NULL,
  UNIQUE (run_id, location, path)
);

CREATE TABLE spec_files (
  workspace_root  TEXT NOT NULL REFERENCES workspaces (root),
  path            TEXT NOT NULL,
  content_hash    TEXT NOT NULL,
  status          TEXT NOT NULL,
  last_run_id     TEXT,
  created_at      BIGINT NOT NULL,
  updated_at      BIGINT NOT NULL,
  PRIMARY KEY (workspace_root, path)
);

CREATE TABLE run_reviews (
  run_id       TEXT PRIMARY KEY REFERENCES runs (id),
  status       TEXT NOT NULL CHECK (status IN ('merged','scrapped','pr_opened')),
  actor        TEXT NOT NULL,
  detail_json  TEXT NOT NULL DEFAULT '{}',
  created_at   BIGINT NOT NULL,
  updated_at   BIGINT NOT NULL
);

-- A rate-limit hold per agent kind, cluster-wide: no host starts a step of that kind before `until`.
CREATE TABLE agent_holds (
  agent       TEXT PRIMARY KEY,
  until       BIGINT NOT NULL,
  run_id      TEXT,
  step_id     BIGINT,
  created_at  BIGINT NOT NULL,
  updated_at  BIGINT NOT NULL
);

-- Merges into one target branch of one workspace run one at a time across all hosts: the row names
-- the merging step. It is taken in the claim transaction and dropped with the step's completion or
-- with its expired lease, so a dead host's merge lock does not outlive its lease.
CREATE TABLE merge_locks (
  workspace_root  TEXT NOT NULL,
  target_branch   TEXT NOT NULL,
  step_id         BIGINT NOT NULL UNIQUE REFERENCES steps (id),
  created_at      BIGINT NOT NULL,
  PRIMARY KEY (workspace_root, target_branch)
);

-- The task ledger and the texts a run was handed (SQLite 0002): the truth the agent's plan and
-- spec files are checked against.
CREATE TABLE ledger_tasks (
  run_id            TEXT NOT NULL REFERENCES runs (id),
  task_id           INTEGER NOT NULL,
  text              TEXT NOT NULL,
  line              TEXT NOT NULL,
  section           TEXT,
  ord               INTEGER NOT NULL,
  state             TEXT NOT NULL CHECK (state IN ('open','blocked','done','reviewed')),
  done_before_run   INTEGER NOT NULL DEFAULT 0,
  added_iteration   INTEGER,
  ticked_iteration  INTEGER,
  created_at        BIGINT NOT NULL,
  updated_at        BIGINT NOT NULL,
  PRIMARY KEY (run_id, task_id)
);

CREATE TABLE run_truth (
  run_id      TEXT PRIMARY KEY REFERENCES runs (id),
  spec_text   TEXT NOT NULL,
  plan_text   TEXT,
  completion  TEXT CHECK (completion IN ('complete_token','complete_facts')),
  created_at  BIGINT NOT NULL,
  updated_at  BIGINT NOT NULL
);
