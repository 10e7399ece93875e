-- Inserts nothing when the event already exists (its key refuses it); the caller tells which.
-- Its job was read in this write (run_of_job), and SQLite's write lock keeps it until the
-- commit. A plain INSERT OR IGNORE ... VALUES: the same insert as a SELECT that checks the job
-- and the uuid cost the writer 25k more instructions per event (docs/performance.md).
INSERT OR IGNORE INTO armada_events (event_uuid, event_content, job_uuid, event_datetime,
    event_status)
VALUES (:event_uuid, :event_content, :job_uuid, :event_datetime, :event_status);
