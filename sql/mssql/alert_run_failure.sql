-- A run that ended, for its alert: its first Failed or Lost job (ix_armada_jobs_run_status)
-- and the start of that job's first Failed or Lost event's content.
WITH failed_job AS (
    SELECT TOP (1) job_uuid, job_associated_agent, job_status
    FROM armada_jobs
    WHERE run_uuid = :run_uuid AND job_status IN ('Failed', 'Lost')
    ORDER BY job_datetime, job_uuid
)
SELECT job_uuid, job_associated_agent, job_status,
    (SELECT TOP (1) LEFT(event.event_content, :text_chars) FROM armada_events AS event
     WHERE event.job_uuid = failed_job.job_uuid AND event.event_status IN ('Failed', 'Lost')
     ORDER BY event.event_datetime, event.event_uuid) AS failed_message
FROM failed_job;
