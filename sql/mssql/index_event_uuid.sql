-- Only for legacy tables that have no key on event_uuid.
IF NOT EXISTS (SELECT 1 FROM sys.indexes
               WHERE object_id = OBJECT_ID(N'dbo.armada_events')
                   AND name IN (N'ix_armada_events_event_uuid',
                                N'ix_armada_events_event_uuidarma81b201e023e804e33905706087fe61e4'))
    CREATE INDEX ix_armada_events_event_uuid ON dbo.armada_events (event_uuid);
