// The first release's schema.
export default `CREATE TABLE alerts (
     seq               INTEGER PRIMARY KEY AUTOINCREMENT,
     id                TEXT NOT NULL UNIQUE,
     idempotency_key   TEXT NOT NULL UNIQUE,
     test              INTEGER NOT NULL,
     state             TEXT NOT NULL,
     received_at       INTEGER NOT NULL,
     updated_at        INTEGER NOT NULL,
     exposure_id       TEXT,
     email             TEXT,
     username_hash     TEXT,
     custom_data       TEXT,
     exposure_date     TEXT,
     had_password      INTEGER NOT NULL,
     password_type     INTEGER,
     password_type_name TEXT,
     exposure_details  TEXT,
     extra             TEXT,
     warnings          TEXT,
     source_ip         TEXT,
     deliveries        INTEGER NOT NULL DEFAULT 1,
     last_delivery_at  INTEGER,
     attempts          INTEGER NOT NULL DEFAULT 0,
     next_attempt_at   INTEGER,
     lease_owner       TEXT,
     lease_until       INTEGER,
     outcome           TEXT,
     users             TEXT,
     actions           TEXT,
     last_error        TEXT,
     completed_at      INTEGER
   );
   -- Partial indexes: only the rows the worker looks for, so finished alerts cost them nothing.
   CREATE INDEX alerts_due ON alerts (next_attempt_at) WHERE state IN ('queued', 'retrying');
   CREATE INDEX alerts_lease ON alerts (lease_until) WHERE state = 'processing';
   CREATE INDEX alerts_state ON alerts (state);
   -- Transitions after receipt (receipt itself is the row's received_at: one write less per alert).
   CREATE TABLE alert_events (
     alert_seq INTEGER NOT NULL REFERENCES alerts (seq),
     at        INTEGER NOT NULL,
     state     TEXT NOT NULL,
     note      TEXT
   );
   CREATE INDEX alert_events_alert ON alert_events (alert_seq);
   CREATE TABLE exposures (
     exposure_id TEXT PRIMARY KEY,
     details     TEXT NOT NULL,
     fetched_at  INTEGER NOT NULL
   );
   CREATE TABLE meta (
     key   TEXT PRIMARY KEY,
     value TEXT NOT NULL
   );`
