-- The task ledger and the facts loopd keeps about what a run was handed. The plan and spec files
-- in the worktree are the agent's view; these rows are the truth they are checked against.

CREATE TABLE ledger_tasks (
  run_id            TEXT NOT NULL REFERENCES runs (id),
  task_id           INTEGER NOT NULL,                -- stable for the run: plan order at creation, then added tasks
  text              TEXT NOT NULL,                   -- whitespace-normalised task text (what plan lines are matched by)
  line              TEXT NOT NULL,                   -- the plan line as last accepted, to restore a removed task
  section           TEXT,                            -- nearest heading
  ord               INTEGER NOT NULL,                -- position in the plan
  state             TEXT NOT NULL CHECK (state IN ('open','blocked','done','reviewed')),
  done_before_run   INTEGER NOT NULL DEFAULT 0,      -- [x]/[R] at creation: done, never marked reviewed by a review
  added_iteration   INTEGER,                         -- NULL = in the plan at creation
  ticked_iteration  INTEGER,                         -- the implementation iteration that ticked it
  created_at        INTEGER NOT NULL,
  updated_at        INTEGER NOT NULL,
  PRIMARY KEY (run_id, task_id)
);

CREATE TABLE run_truth (
  run_id      TEXT PRIMARY KEY REFERENCES runs (id),
  spec_text   TEXT NOT NULL,                         -- the spec as handed over; read-only for the agent
  plan_text   TEXT,                                  -- the plan as handed over; NULL for a plan-less run
  completion  TEXT CHECK (completion IN ('complete_token','complete_facts')),
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
);
