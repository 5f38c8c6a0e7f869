-- Orders per UTC day and current status, kept by triggers as orders are
-- written, changed and erased, so the dashboard's overview reads a few dozen
-- rows instead of counting every recent order. Each database session counts
-- into its own `shard` (its backend pid), so concurrent writers (group-commit
-- batches of several nodes, status changes) never wait on one hot row; the
-- readers add the shards up.
CREATE TABLE order_day_counts (
    day    BIGINT NOT NULL,
    status TEXT NOT NULL,
    shard  BIGINT NOT NULL,
    n      BIGINT NOT NULL,
    PRIMARY KEY (day, status, shard)
);

INSERT INTO order_day_counts (day, status, shard, n)
SELECT created_at / 86400000, status, 0, COUNT(*) FROM orders GROUP BY created_at / 86400000, status;

CREATE FUNCTION order_day_counts_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        INSERT INTO order_day_counts (day, status, shard, n)
        VALUES (OLD.created_at / 86400000, OLD.status, pg_backend_pid(), -1)
        ON CONFLICT (day, status, shard) DO UPDATE SET n = order_day_counts.n - 1;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO order_day_counts (day, status, shard, n)
        VALUES (NEW.created_at / 86400000, NEW.status, pg_backend_pid(), 1)
        ON CONFLICT (day, status, shard) DO UPDATE SET n = order_day_counts.n + 1;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER order_day_counts_insert_delete AFTER INSERT OR DELETE ON orders
FOR EACH ROW EXECUTE FUNCTION order_day_counts_track();

CREATE TRIGGER order_day_counts_update AFTER UPDATE OF status ON orders
FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION order_day_counts_track();
