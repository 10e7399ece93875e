-- Fresh tables; existing (legacy) tables are left exactly as they are.
CREATE TABLE IF NOT EXISTS armada_runs (
    run_uuid TEXT NOT NULL PRIMARY KEY,
    run_datetime DATETIME NOT NULL
);
CREATE TABLE IF NOT EXISTS armada_jobs (
    job_uuid TEXT NOT NULL PRIMARY KEY,
    run_uuid TEXT NOT NULL,
    job_datetime DATETIME NOT NULL,
    job_associated_agent TEXT NOT NULL,
    job_status TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS armada_events (
    event_uuid TEXT NOT NULL PRIMARY KEY,
    event_content TEXT NOT NULL,
    job_uuid TEXT NOT NULL,
    event_datetime DATETIME NOT NULL,
    event_status TEXT NOT NULL
);
