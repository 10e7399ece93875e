-- Armada's three tables, as the first version made them. A database made by another Armada
-- program has them already (keyless, VARCHAR(255)): they are left exactly as they are.
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
