-- The other instances live on this database (announce_instance), by row name.
SELECT name, holder
FROM armada_leases
WHERE name LIKE N'instance:%' AND name <> :instance
    AND expires >= SYSUTCDATETIME()
ORDER BY name;
