-- The run's newest Failed or Lost job (ix_armada_jobs_run_status), with the start of its
-- newest event's content and of its newest Failed event's (ix_armada_events_job).
WITH failed_job AS (
    SELECT job_uuid, job_associated_agent, job_status, job_datetime
    FROM armada_jobs
    WHERE run_uuid = :run_uuid AND job_status IN ('Failed', 'Lost')
    ORDER BY job_datetime DESC, job_uuid DESC
    LIMIT 1
)
SELECT job_uuid, job_associated_agent, job_status,
    (SELECT substr(event.event_content, 1, :text_chars) FROM armada_events AS event
     WHERE event.job_uuid = failed_job.job_uuid
     ORDER BY event.event_datetime DESC, event.event_uuid DESC LIMIT 1) AS last_message,
    (SELECT substr(event.event_content, 1, :text_chars) FROM armada_events AS event
     WHERE event.job_uuid = failed_job.job_uuid AND event.event_status = 'Failed'
     ORDER BY event.event_datetime DESC, event.event_uuid DESC LIMIT 1) AS failed_message
FROM failed_job;
