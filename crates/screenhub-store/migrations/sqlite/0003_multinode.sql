-- Several nodes on one database: PostgreSQL only (see migrations/postgres/0002).
-- SQLite serves one process, whose single writer connection already commits
-- events in numbering order and whose dispatcher is woken in memory.
SELECT 1;
