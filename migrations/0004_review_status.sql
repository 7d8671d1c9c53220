-- The human decision on a run's work, one row per run once someone decided: merged (by hand,
-- through runs.merge), scrapped (branch and worktree deleted, record kept) or pr_opened (pushed and
-- a pull request opened). No row means pending. Automatic merges by the run itself are read from
-- its merge step, not copied here.
CREATE TABLE run_reviews (
  run_id       TEXT PRIMARY KEY REFERENCES runs (id),
  status       TEXT NOT NULL CHECK (status IN ('merged','scrapped','pr_opened')),
  actor        TEXT NOT NULL,                 -- who decided: "loopctl (alice)", "dashboard", "api"
  detail_json  TEXT NOT NULL DEFAULT '{}',    -- merge commit and target, PR url, removed paths
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL
);
