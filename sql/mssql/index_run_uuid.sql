-- Only for legacy tables that have no key on run_uuid.
IF NOT EXISTS (SELECT 1 FROM sys.indexes
               WHERE object_id = OBJECT_ID(N'dbo.armada_runs')
                   AND name IN (N'ix_armada_runs_run_uuid',
                                N'ix_armada_runs_run_uuidarmada_r79bf2073e55c13e5b42543fc7e6226a8'))
    CREATE INDEX ix_armada_runs_run_uuid ON dbo.armada_runs (run_uuid);
