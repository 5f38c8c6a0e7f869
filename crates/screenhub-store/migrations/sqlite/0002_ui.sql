-- The web UI: one-time connect links for employers, and vendor dashboard
-- sessions. Both store only SHA-256 hashes of their bearer secrets.

CREATE TABLE connect_sessions (
    id         TEXT PRIMARY KEY,
    token_hash BLOB NOT NULL UNIQUE,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX connect_sessions_account ON connect_sessions(account_id);

CREATE TABLE dashboard_sessions (
    session_hash BLOB PRIMARY KEY,
    api_key_id   TEXT NOT NULL REFERENCES api_keys(id) ON DELETE CASCADE,
    csrf_token   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);

-- Dashboard counts and charts read recent orders and deliveries by time
-- (status in the index: counting by status never touches the table).
CREATE INDEX orders_created ON orders(created_at, status);
CREATE INDEX deliveries_completed ON deliveries(completed_at) WHERE state = 'succeeded';
