-- Only for legacy tables that have no key on event_uuid.
CREATE INDEX IF NOT EXISTS ix_armada_events_event_uuid ON armada_events (event_uuid);
