-- A page of the run's jobs, as list_jobs_of_run, each with its newest event's datetime and the
-- start of its content and, for a Failed or Lost job, the start of its newest Failed event's:
-- seeks of ix_armada_events_job per job (the live page cuts each text to its first line).
WITH job_page AS (
    SELECT job_uuid, run_uuid, job_datetime, job_associated_agent, job_status
    FROM armada_jobs
    WHERE run_uuid = :run_uuid
    ORDER BY job_datetime DESC, job_uuid DESC
    LIMIT :limit OFFSET :offset
)
SELECT job_uuid, run_uuid, job_datetime, job_associated_agent, job_status,
    (SELECT MAX(event.event_datetime) FROM armada_events AS event
     WHERE event.job_uuid = job_page.job_uuid) AS last_event_datetime,
    (SELECT substr(event.event_content, 1, :text_chars) FROM armada_events AS event
     WHERE event.job_uuid = job_page.job_uuid
     ORDER BY event.event_datetime DESC, event.event_uuid DESC LIMIT 1) AS last_message,
    (SELECT substr(event.event_content, 1, :text_chars) FROM armada_events AS event
     WHERE event.job_uuid = job_page.job_uuid AND event.event_status = 'Failed'
         AND job_page.job_status IN ('Failed', 'Lost')
     ORDER BY event.event_datetime DESC, event.event_uuid DESC LIMIT 1) AS failed_message
FROM job_page
ORDER BY job_datetime DESC, job_uuid DESC;
