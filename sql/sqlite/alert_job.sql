-- A job that turned Failed or Lost, for its alert: its agent, and the start of its first
-- Failed or Lost event's content (else of its newest event's), by ix_armada_events_job.
SELECT job.job_uuid, job.run_uuid, job.job_datetime, job.job_associated_agent, job.job_status,
    (SELECT substr(event.event_content, 1, :text_chars) FROM armada_events AS event
     WHERE event.job_uuid = job.job_uuid AND event.event_status IN ('Failed', 'Lost')
     ORDER BY event.event_datetime, event.event_uuid LIMIT 1) AS failed_message,
    (SELECT substr(event.event_content, 1, :text_chars) FROM armada_events AS event
     WHERE event.job_uuid = job.job_uuid
     ORDER BY event.event_datetime DESC, event.event_uuid DESC LIMIT 1) AS last_message
FROM armada_jobs AS job
WHERE job.job_uuid = :job_uuid
LIMIT 1;
