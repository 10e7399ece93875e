-- Take (or keep) the lease :lease for :seconds when it is free, expired or already ours.
UPDATE armada_leases
SET holder = :holder,
    expires = DATEADD(millisecond, CAST(:seconds * 1000 AS INT), SYSUTCDATETIME())
WHERE name = :lease
    AND (expires < SYSUTCDATETIME() OR holder = :holder);
