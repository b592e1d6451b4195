// The remediation lifecycle: an alert's work as steps (one per matched user and action), and an outbox for
// messages delivered at least once (the operator digest).
export default `CREATE TABLE steps (
     seq          INTEGER PRIMARY KEY AUTOINCREMENT,
     alert_seq    INTEGER NOT NULL REFERENCES alerts (seq),
     user_id      TEXT NOT NULL,
     tenant_id    TEXT,
     email        TEXT,
     action       TEXT NOT NULL,
     phase        TEXT NOT NULL,
     due_at       INTEGER NOT NULL,
     state        TEXT NOT NULL,
     detail       TEXT,
     http_status  INTEGER,
     result       TEXT,
     undo         TEXT,
     updated_at   INTEGER NOT NULL,
     UNIQUE (alert_seq, user_id, action)
   );
   CREATE INDEX steps_user ON steps (user_id);
   CREATE TABLE outbox (
     seq          INTEGER PRIMARY KEY AUTOINCREMENT,
     key          TEXT NOT NULL UNIQUE,
     kind         TEXT NOT NULL,
     payload      TEXT NOT NULL,
     created_at   INTEGER NOT NULL,
     due_at       INTEGER,
     attempts     INTEGER NOT NULL DEFAULT 0,
     lease_owner  TEXT,
     lease_token  INTEGER NOT NULL DEFAULT 0,
     sent_at      INTEGER,
     last_error   TEXT
   );
   CREATE INDEX outbox_due ON outbox (due_at) WHERE due_at IS NOT NULL;`
