-- The phases a step may have, as rows referenced by steps.phase (the SQLite schema's 0006 does the
-- same): a new phase is one INSERT INTO step_phases migration. PostgreSQL adds the foreign key in
-- place (checking the existing rows), so no table is rebuilt.
CREATE TABLE step_phases (
  phase TEXT PRIMARY KEY
);
INSERT INTO step_phases (phase) VALUES ('implementation'), ('review'), ('verification'), ('watchdog'), ('merge');
ALTER TABLE steps ADD CONSTRAINT steps_phase_fkey FOREIGN KEY (phase) REFERENCES step_phases (phase);
