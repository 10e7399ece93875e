-- insert_event_if_absent where armada_events has no key on event_uuid (Armada's own tables
-- made before this service): the uuid is looked for, not refused by a key.
{insert_event_checked}
