-- Only for legacy tables that have no key on run_uuid.
CREATE INDEX IF NOT EXISTS ix_armada_runs_run_uuid ON armada_runs (run_uuid);
