-- Orders per UTC day and current status, kept by triggers as orders are
-- written, changed and erased, so the dashboard's overview reads a few dozen
-- rows instead of counting every recent order. `shard` is always 0 here (one
-- writer); PostgreSQL uses it to keep concurrent writers off each other's rows.
CREATE TABLE order_day_counts (
    day    BIGINT NOT NULL,
    status TEXT NOT NULL,
    shard  BIGINT NOT NULL,
    n      BIGINT NOT NULL,
    PRIMARY KEY (day, status, shard)
);

INSERT INTO order_day_counts (day, status, shard, n)
SELECT created_at / 86400000, status, 0, COUNT(*) FROM orders GROUP BY created_at / 86400000, status;

CREATE TRIGGER order_day_counts_insert AFTER INSERT ON orders BEGIN
    INSERT INTO order_day_counts (day, status, shard, n) VALUES (NEW.created_at / 86400000, NEW.status, 0, 1)
    ON CONFLICT (day, status, shard) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER order_day_counts_update AFTER UPDATE OF status ON orders
WHEN OLD.status IS NOT NEW.status BEGIN
    INSERT INTO order_day_counts (day, status, shard, n) VALUES (OLD.created_at / 86400000, OLD.status, 0, -1)
    ON CONFLICT (day, status, shard) DO UPDATE SET n = n - 1;
    INSERT INTO order_day_counts (day, status, shard, n) VALUES (NEW.created_at / 86400000, NEW.status, 0, 1)
    ON CONFLICT (day, status, shard) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER order_day_counts_delete AFTER DELETE ON orders BEGIN
    INSERT INTO order_day_counts (day, status, shard, n) VALUES (OLD.created_at / 86400000, OLD.status, 0, -1)
    ON CONFLICT (day, status, shard) DO UPDATE SET n = n - 1;
END;
