-- A Lost job whose agent reports a new event is Running again (its agent was only slow); the
-- job_status trigger gives it back its row in armada_job_activity. Only when the event is new:
-- the insert that follows it in operations.create_event then always changes a row.
UPDATE armada_jobs SET job_status = 'Running'
WHERE job_uuid = :job_uuid AND job_status = 'Lost'
    AND NOT EXISTS (SELECT 1 FROM armada_events WHERE event_uuid = :event_uuid);
