-- An event inserted unless its job is unknown or the event already exists.
-- UPDLOCK, HOLDLOCK: the job row cannot be deleted (cascade delete of its run) before commit,
-- and a concurrent insert of the same event_uuid waits instead of adding a second row.
INSERT INTO armada_events (event_uuid, event_content, job_uuid, event_datetime, event_status)
SELECT :event_uuid, :event_content, :job_uuid, :event_datetime, :event_status
WHERE EXISTS (
        SELECT 1 FROM armada_jobs WITH (UPDLOCK, HOLDLOCK) WHERE job_uuid = :job_uuid
    )
    AND NOT EXISTS (
        SELECT 1 FROM armada_events WITH (UPDLOCK, HOLDLOCK) WHERE event_uuid = :event_uuid
    );
