-- Screenhub schema (SQLite). Times are milliseconds since the Unix epoch.
-- Secrets and candidate PII are stored encrypted (AES-256-GCM) in *_enc columns;
-- bearer secrets only as SHA-256 hashes.

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    key_hash     BLOB NOT NULL UNIQUE,
    prefix       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT
);

CREATE TABLE accounts (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    ats              TEXT NOT NULL,
    environment      TEXT NOT NULL,
    status           TEXT NOT NULL,
    status_reason    TEXT,
    disabled_at      BIGINT,
    ats_api_base_url TEXT NOT NULL,
    ats_api_key_enc  BLOB,
    ats_key_title    TEXT,
    token_prefix     TEXT NOT NULL,
    token_enc        BLOB NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    last_activity_at BIGINT
);

-- Every External Trigger Token that may still be used: the current one
-- (expires_at NULL) and rotated ones inside their grace period.
CREATE TABLE account_tokens (
    token_hash BLOB PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT
);
CREATE INDEX account_tokens_account ON account_tokens(account_id);

CREATE TABLE packages (
    id          TEXT PRIMARY KEY,
    ats_type_id TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL,
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    screenings  TEXT NOT NULL,
    account_ids TEXT,
    active      BOOLEAN NOT NULL,
    position    BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE webhook_endpoints (
    id              TEXT PRIMARY KEY,
    url             TEXT NOT NULL,
    description     TEXT NOT NULL,
    events          TEXT,
    secret_enc      BLOB NOT NULL,
    old_secret_enc  BLOB,
    old_secret_until BIGINT,
    disabled        BOOLEAN NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

CREATE TABLE orders (
    id                 TEXT PRIMARY KEY,
    account_id         TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    package_id         TEXT NOT NULL,
    package_name       TEXT NOT NULL,
    status             TEXT NOT NULL,
    outcome            TEXT,
    candidate_ats_id   TEXT NOT NULL,
    application_ats_id TEXT NOT NULL,
    application_status TEXT NOT NULL,
    job_ats_id         TEXT NOT NULL,
    job_name           TEXT NOT NULL,
    job_req_id         TEXT,
    email_hash         BLOB,
    pii_enc            BLOB,
    progress_label     TEXT,
    eta_minutes        BIGINT,
    result             TEXT,
    cancel_reason      TEXT,
    cancelled_by       TEXT,
    failure_reason     TEXT,
    last_ats_timestamp BIGINT NOT NULL,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    terminal_at        BIGINT,
    pii_purged_at      BIGINT
);
-- One live order per application and package: Ashby's retried start finds it.
CREATE UNIQUE INDEX orders_live_application
    ON orders(account_id, application_ats_id, package_id)
    WHERE status IN ('pending', 'in_progress');
CREATE INDEX orders_account ON orders(account_id, id);
CREATE INDEX orders_status ON orders(status, id);
CREATE INDEX orders_package ON orders(package_id, id);
CREATE INDEX orders_updated ON orders(updated_at);
CREATE INDEX orders_email ON orders(email_hash);

CREATE TABLE events (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    type       TEXT NOT NULL,
    account_id TEXT,
    order_id   TEXT,
    data       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX events_order ON events(order_id, seq);
CREATE INDEX events_account ON events(account_id, seq);

CREATE TABLE deliveries (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT NOT NULL UNIQUE,
    target          TEXT NOT NULL,
    account_id      TEXT,
    order_id        TEXT,
    endpoint_id     TEXT,
    event_type      TEXT NOT NULL,
    payload_enc     BLOB NOT NULL,
    state           TEXT NOT NULL,
    attempts        BIGINT NOT NULL,
    round_start     BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    lease_owner     TEXT,
    lease_until     BIGINT,
    last_status     BIGINT,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    completed_at    BIGINT
);
CREATE INDEX deliveries_due ON deliveries(next_attempt_at) WHERE state = 'pending';
CREATE INDEX deliveries_order_fifo ON deliveries(order_id, target, seq) WHERE state = 'pending';
CREATE INDEX deliveries_order ON deliveries(order_id, seq);
CREATE INDEX deliveries_state ON deliveries(state, seq);

CREATE TABLE delivery_attempts (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id      TEXT NOT NULL,
    attempt          BIGINT NOT NULL,
    started_at       BIGINT NOT NULL,
    duration_ms      BIGINT NOT NULL,
    status_code      BIGINT,
    error            TEXT,
    response_excerpt TEXT
);
CREATE INDEX delivery_attempts_delivery ON delivery_attempts(delivery_id, id);

CREATE TABLE idempotency_keys (
    api_key_id    TEXT NOT NULL,
    key           TEXT NOT NULL,
    request_hash  BLOB NOT NULL,
    status_code   BIGINT,
    response_body BLOB,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (api_key_id, key)
);
