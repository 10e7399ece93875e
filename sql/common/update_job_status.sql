UPDATE armada_jobs SET job_status = :job_status WHERE job_uuid = :job_uuid;
