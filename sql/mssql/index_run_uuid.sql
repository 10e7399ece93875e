-- Only for legacy tables that have no key on run_uuid.
IF NOT EXISTS (SELECT 1 FROM sys.indexes
               WHERE name = N'ix_armada_runs_run_uuid' AND object_id = OBJECT_ID(N'dbo.armada_runs'))
    CREATE INDEX ix_armada_runs_run_uuid ON dbo.armada_runs (run_uuid);
