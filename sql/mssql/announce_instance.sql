-- This instance (its row :instance) is live for :seconds more; the rows of instances whose time
-- ran out (stopped without a word: kill -9, a lost host) go.
DELETE FROM armada_leases
WHERE name LIKE N'instance:%' AND expires < SYSUTCDATETIME();
UPDATE armada_leases
SET holder = :holder,
    expires = DATEADD(millisecond, CAST(:seconds * 1000 AS INT), SYSUTCDATETIME())
WHERE name = :instance;
INSERT INTO armada_leases (name, holder, expires)
SELECT :instance, :holder, DATEADD(millisecond, CAST(:seconds * 1000 AS INT), SYSUTCDATETIME())
WHERE NOT EXISTS (SELECT 1 FROM armada_leases WHERE name = :instance);
