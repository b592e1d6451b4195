// The first PostgreSQL schema. `due_at` is the queue: when a queued or retrying alert is due, or when a
// processing alert's lease expires; NULL once finished. Times are the database's own (now()).
export default `
CREATE TABLE alerts (
  seq                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id                 text NOT NULL UNIQUE,
  idempotency_key    text NOT NULL UNIQUE,
  test               boolean NOT NULL,
  state              text NOT NULL,
  received_at        timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  exposure_id        text,
  email              text,
  username_hash      text,
  custom_data        text,
  exposure_date      text,
  had_password       boolean NOT NULL,
  password_type      integer,
  password_type_name text,
  exposure_details   jsonb,
  extra              jsonb,
  warnings           jsonb,
  source_ip          text,
  deliveries         integer NOT NULL DEFAULT 1,
  last_delivery_at   timestamptz,
  attempts           integer NOT NULL DEFAULT 0,
  due_at             timestamptz,
  lease_owner        text,
  lease_token        integer NOT NULL DEFAULT 0,
  outcome            text,
  users              jsonb,
  actions            jsonb,
  last_error         text,
  completed_at       timestamptz,
  purged_at          timestamptz
);
-- Partial indexes: only the rows the worker looks for, so finished alerts cost the queue nothing.
CREATE INDEX alerts_due ON alerts (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX alerts_leased ON alerts (lease_owner) WHERE state = 'processing';
CREATE INDEX alerts_state ON alerts (state);
CREATE INDEX alerts_finished ON alerts (completed_at) WHERE completed_at IS NOT NULL AND purged_at IS NULL;
-- Transitions after receipt (receipt itself is the row's received_at).
CREATE TABLE alert_events (
  event_seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  alert_seq bigint NOT NULL REFERENCES alerts (seq) ON DELETE CASCADE,
  at        timestamptz NOT NULL DEFAULT now(),
  state     text NOT NULL,
  note      text
);
CREATE INDEX alert_events_alert ON alert_events (alert_seq);
CREATE TABLE exposures (
  exposure_id text PRIMARY KEY,
  details     jsonb NOT NULL,
  fetched_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE meta (
  key   text PRIMARY KEY,
  value text NOT NULL
);
`
