-- Take (or keep) the lease :lease for :seconds when it is free, expired or already ours.
UPDATE armada_leases
SET holder = :holder,
    expires = strftime('%Y-%m-%d %H:%M:%f', 'now', '+' || :seconds || ' seconds')
WHERE name = :lease
    AND (expires < strftime('%Y-%m-%d %H:%M:%f', 'now') OR holder = :holder);
