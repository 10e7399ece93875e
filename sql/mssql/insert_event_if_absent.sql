-- Inserts nothing when the job is unknown or the event already exists; the caller tells which.
{insert_event_checked}
