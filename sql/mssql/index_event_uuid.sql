-- Only for legacy tables that have no key on event_uuid.
IF NOT EXISTS (SELECT 1 FROM sys.indexes
               WHERE name = N'ix_armada_events_event_uuid'
                   AND object_id = OBJECT_ID(N'dbo.armada_events'))
    CREATE INDEX ix_armada_events_event_uuid ON dbo.armada_events (event_uuid);
