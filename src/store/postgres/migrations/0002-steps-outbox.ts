// The remediation lifecycle: an alert's work as steps (one per matched user and action), and an outbox for
// messages delivered at least once (the operator digest).
export default `
CREATE TABLE steps (
  seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  alert_seq    bigint NOT NULL REFERENCES alerts (seq) ON DELETE CASCADE,
  user_id      text NOT NULL,
  tenant_id    text,
  email        text,
  action       text NOT NULL,
  phase        text NOT NULL,
  due_at       timestamptz NOT NULL,
  state        text NOT NULL,
  detail       text,
  http_status  integer,
  result       jsonb,
  undo         jsonb,
  updated_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (alert_seq, user_id, action)
);
CREATE INDEX steps_user ON steps (user_id);
CREATE TABLE outbox (
  seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  key          text NOT NULL UNIQUE,
  kind         text NOT NULL,
  payload      jsonb NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  due_at       timestamptz,
  attempts     integer NOT NULL DEFAULT 0,
  lease_owner  text,
  lease_token  integer NOT NULL DEFAULT 0,
  sent_at      timestamptz,
  last_error   text
);
CREATE INDEX outbox_due ON outbox (due_at) WHERE due_at IS NOT NULL;
`
