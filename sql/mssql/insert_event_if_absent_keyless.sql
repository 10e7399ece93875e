-- insert_event_if_absent where armada_events has no key on event_uuid: the same statement.
{insert_event_checked}
