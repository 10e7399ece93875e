-- The other instances live on this database (announce_instance), by row name.
SELECT name, holder
FROM armada_leases
WHERE name LIKE 'instance:%' AND name <> :instance
    AND expires >= strftime('%Y-%m-%d %H:%M:%f', 'now')
ORDER BY name;
