// Every statement of the PostgreSQL store, one named constant per operation (read it as the store's
// schema of behaviour). Conventions that hold for all of them:
// - Times come from the database's now(); durations arrive as milliseconds and become intervals here
//   (`intervalFromMs`), so no two hosts' clocks are ever compared.
// - A lease-guarded change names the alert's id AND its lease token ($1, $2) in its WHERE clause: a stale
//   holder's statement changes nothing (fencing), and the check and the change are one statement.
// - A statement that leaves work due now notifies the replicas itself (`WAKE_IF`), in its own transaction.
// - The statements the worker sends for every alert are `prepared` (a name and a text): each connection parses
//   and plans them once instead of on every call. They name their result columns (never `*`), so a migration that
//   adds a column does not change what a prepared statement returns.
// The column order of each statement's parameters is documented beside it; the wiring is in alerts.ts,
// queue.ts, steps.ts, kv.ts, outbox.ts, exposures.ts and insert-batcher.ts.
import { CHANNEL } from './listen.js'

/** A statement each connection prepares once under its name (node-postgres' `{ name, text }`). */
export interface Prepared { readonly name: string, readonly text: string }
const prepared = (name: string, text: string): Prepared => Object.freeze({ name: `bridge_${name}`, text })

/** `$n` milliseconds as an interval (a SQL fragment: `now() + intervalFromMs(3)`). */
const intervalFromMs = (param: number): string => `make_interval(secs => $${param}::double precision / 1000)`

/** Wakes every replica's worker (LISTEN in listen.ts). */
const NOTIFY = `pg_notify('${CHANNEL}', '')`

/** A CTE that notifies once when the CTE `cte` produced a row (a SQL fragment of `WITH …`). */
const wakeIf = (cte: string): string => `wake AS (SELECT ${NOTIFY} FROM (SELECT 1 FROM ${cte} LIMIT 1) x)`

// ---- alerts: intake ----------------------------------------------------------------------------------

/**
 * A batch of alerts, one row per distinct idempotency key, in one statement ($1..$16: one array per column,
 * see insert-batcher.ts; $17 the keyed form of each key under BRIDGE_TOMBSTONE_KEY, or nulls). A test alert is
 * stored finished (`done`, outcome `test`); a key that exists, or whose keyed form a tombstone holds, is
 * skipped. Returns the inserted rows' id, key and test flag.
 */
export const INSERT_ALERTS = `INSERT INTO alerts (id, idempotency_key, test, state, exposure_id, email, username_hash, custom_data, exposure_date,
      had_password, password_type, password_type_name, exposure_details, extra, warnings, source_ip,
      last_delivery_at, due_at, outcome, completed_at, source)
    SELECT u.id, u.key, u.test, CASE WHEN u.test THEN 'done' ELSE 'queued' END, u.exposure_id, u.email, u.username_hash,
      u.custom_data, u.exposure_date, u.had_password, u.password_type, u.password_type_name, u.exposure_details::jsonb,
      u.extra::jsonb, u.warnings::jsonb, u.source_ip, now(),
      CASE WHEN u.test THEN NULL ELSE now() END, CASE WHEN u.test THEN 'test' END, CASE WHEN u.test THEN now() END, u.source
    FROM unnest($1::text[], $2::text[], $3::boolean[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
      $9::boolean[], $10::integer[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[])
      WITH ORDINALITY AS u(id, key, test, exposure_id, email, username_hash, custom_data, exposure_date,
      had_password, password_type, password_type_name, exposure_details, extra, warnings, source_ip, source, tomb, ord)
    WHERE NOT EXISTS (SELECT 1 FROM alerts t WHERE t.idempotency_key = u.tomb)
    ORDER BY u.ord
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id, idempotency_key AS key, test`

/**
 * Counts repeated deliveries on the first row of each key ($1 keys, $2 how many repeats; $3 their keyed forms, a
 * purged alert's tombstone holding one) and returns that row's id and test flag. A separate statement, so it sees rows that concurrent transactions committed
 * while the insert waited.
 */
export const COUNT_DUPLICATE_DELIVERIES = `UPDATE alerts a SET deliveries = a.deliveries + d.n, last_delivery_at = now()
    FROM unnest($1::text[], $2::integer[], $3::text[]) AS d(key, n, tomb) WHERE a.idempotency_key IN (d.key, d.tomb)
    RETURNING a.id, d.key, a.test`

/** Wakes the replicas from inside the insert batch's transaction (delivered at COMMIT). */
export const NOTIFY_REPLICAS = `SELECT ${NOTIFY}`

// ---- alerts: reads -----------------------------------------------------------------------------------

/** One alert by id ($1). */
export const GET_ALERT = 'SELECT * FROM alerts WHERE id = $1'
/** The part of an alert's history its row holds ($1 id). */
export const ALERT_RECEIPT = 'SELECT seq, received_at, test FROM alerts WHERE id = $1'
/** The recorded history of an alert ($1 seq), oldest first. */
export const ALERT_EVENTS = 'SELECT at, state, note FROM alert_events WHERE alert_seq = $1 ORDER BY event_seq'
/** `alerts.list`: `where` from listFilter (its placeholders numbered first), then the limit's placeholder. */
export const listAlerts = (where: string, limit: string): string => `SELECT * FROM alerts ${where} ORDER BY seq DESC LIMIT ${limit}`
export const COUNT_BY_STATE = 'SELECT state, count(*)::integer AS n FROM alerts GROUP BY state'
export const COUNT_BY_OUTCOME = 'SELECT outcome, count(*)::integer AS n FROM alerts WHERE outcome IS NOT NULL GROUP BY outcome'
/** What finished in [$1, $2), by outcome. */
export const SUMMARY_COUNTS = `SELECT coalesce(outcome, 'none') AS outcome, count(*)::integer AS n FROM alerts
    WHERE completed_at >= $1 AND completed_at < $2 AND purged_at IS NULL GROUP BY outcome`
/** The first $3 of what finished in [$1, $2), oldest first. */
export const SUMMARY_FIRST = `SELECT * FROM alerts WHERE completed_at >= $1 AND completed_at < $2 AND purged_at IS NULL
    ORDER BY completed_at LIMIT $3`
/** Alerts dead, and alerts waiting out a grace period, now. */
export const COUNT_DEAD_AND_WAITING = `SELECT count(*) FILTER (WHERE state = 'dead')::integer AS dead,
    count(*) FILTER (WHERE state = 'waiting')::integer AS waiting FROM alerts WHERE state IN ('dead', 'waiting')`

// ---- alerts: retention -------------------------------------------------------------------------------

/**
 * One slice of `alerts.purge`: up to $2 alerts finished more than $1 ms ago lose their personal data, events
 * and steps (the row stays as a tombstone: its rows' seq and idempotency key are returned, for KEY_TOMBSTONES).
 * SKIP LOCKED: replicas purging at once take different rows. With them
 * go (all CTEs see the rows as they were, steps included):
 * - the notify-ledger rows they hold (KV.notified, built from their steps' users; only where the value names the
 *   alert: another alert of the same exposure may hold it);
 * - the operator messages that name them (OUTBOX_KEYS): their `dead:<id>:…` message; a digest whose window holds
 *   one's completion — started (its key, epoch ms) by the latest completion, sent at or after the earliest, a
 *   minute apart each way (the digest's builder and the database may keep time a little apart);
 * - and any row made more than $1 ms ago that is an operator message or was sent (work not yet done — an
 *   enrolment change — stays however old).
 */
export const PURGE_SLICE = `WITH p AS (
      SELECT seq, id, exposure_id, completed_at FROM alerts
      WHERE completed_at IS NOT NULL AND purged_at IS NULL AND completed_at <= now() - ${intervalFromMs(1)}
      LIMIT $2 FOR UPDATE SKIP LOCKED
    ), e AS (
      DELETE FROM alert_events WHERE alert_seq IN (SELECT seq FROM p)
    ), lg AS (
      DELETE FROM meta m USING steps s, p
      WHERE s.alert_seq = p.seq AND m.key = 'notified:' || s.tenant_id || ':' || s.user_id || ':' || coalesce(p.exposure_id, p.id)
        AND strpos(m.value, '"alertId":"' || p.id || '"') > 0
    ), st AS (
      DELETE FROM steps WHERE alert_seq IN (SELECT seq FROM p)
    ), ob AS (
      DELETE FROM outbox o WHERE (o.created_at <= now() - ${intervalFromMs(1)} AND (o.kind IN ('digest', 'dead', 'paused') OR o.sent_at IS NOT NULL))
        OR (o.key LIKE 'dead:%' AND substr(o.key, 6, 36) IN (SELECT id FROM p))
        OR (CASE WHEN o.key ~ '^digest:[0-9]{1,15}$' THEN substr(o.key, 8)::bigint END
              <= (SELECT (extract(epoch FROM max(completed_at)) * 1000)::bigint + 60000 FROM p)
            AND o.created_at >= (SELECT min(completed_at) - interval '1 minute' FROM p))
    ), u AS (
      UPDATE alerts a SET email = NULL, username_hash = NULL, custom_data = NULL, exposure_details = NULL, extra = NULL,
        warnings = NULL, source_ip = NULL, users = NULL, actions = NULL, last_error = NULL, purged_at = now()
      FROM p WHERE a.seq = p.seq RETURNING a.seq, a.idempotency_key
    )
    SELECT seq, idempotency_key AS key FROM u`
/** Up to $1 tombstones whose idempotency key is not keyed yet: purged before BRIDGE_TOMBSTONE_KEY was set. */
export const UNKEYED_TOMBSTONES = `SELECT seq, idempotency_key AS key FROM alerts
    WHERE purged_at IS NOT NULL AND left(idempotency_key, 5) <> 'hmac:' LIMIT $1`
/** Tombstones keyed: each of $1 (seqs) still holding $2 (its plain key) gets $3 (its keyed form). */
export const KEY_TOMBSTONES = `UPDATE alerts a SET idempotency_key = k.keyed
    FROM unnest($1::bigint[], $2::text[], $3::text[]) AS k(seq, plain, keyed)
    WHERE a.seq = k.seq AND a.idempotency_key = k.plain AND a.purged_at IS NOT NULL`

// ---- queue: claims and leases ------------------------------------------------------------------------

/**
 * A claim runs on the worker's connections, whose commits may skip the WAL flush, but a claim's must not: its
 * commit flushed (`synchronous_commit` on for its own transaction, evaluated with each row claimed), a lease the
 * worker was answered survives a crash of PostgreSQL. Otherwise the claim is lost, the next claim of that alert
 * hands out the same fencing token again, and the first worker's fenced writes pass under it (two replicas act).
 */
const FLUSHED = 'set_config(\'synchronous_commit\', \'on\', true) AS flushed'

/**
 * Leases up to $2 due alerts to owner $1 for $3 ms, counting an attempt and recording it. SKIP LOCKED:
 * replicas claiming at once take different alerts; MATERIALIZED keeps the locked set fixed. Returns the
 * alert rows — the columns the worker reads; the others as NULL (store/types.ts `Claimed`) — and whether an
 * earlier attempt planned their steps.
 */
export const CLAIM = prepared('claim', `WITH due AS MATERIALIZED (
      SELECT seq FROM alerts WHERE due_at <= now() ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED
    ), claimed AS (
      UPDATE alerts a SET state = 'processing', lease_owner = $1, lease_token = a.lease_token + 1,
        due_at = now() + ${intervalFromMs(3)}, attempts = a.attempts + 1, updated_at = now()
      FROM due WHERE a.seq = due.seq
      RETURNING a.seq, a.id, a.test, a.state, a.received_at, a.updated_at, a.exposure_id, a.email, a.username_hash, a.custom_data,
        a.exposure_date, a.had_password, a.password_type, a.password_type_name, a.exposure_details, a.source, a.deliveries, a.attempts,
        a.due_at, a.lease_owner, a.lease_token, a.outcome, a.actions
    ), ev AS (
      INSERT INTO alert_events (alert_seq, state, note) SELECT seq, 'processing', 'attempt ' || attempts || ' by ' || $1 FROM claimed
    )
    SELECT claimed.*, NULL::jsonb AS extra, NULL::jsonb AS warnings, NULL::text AS source_ip, NULL::jsonb AS users, NULL::text AS last_error,
      NULL::timestamptz AS completed_at, NULL::timestamptz AS purged_at,
      (SELECT true FROM steps WHERE steps.alert_seq = claimed.seq LIMIT 1) IS NOT NULL AS planned, ${FLUSHED}
    FROM claimed ORDER BY due_at`)

/** The heartbeat: the leases of owner $1 in ($3 ids, $4 tokens) still current, extended by $2 ms; their ids. */
export const RENEW_HELD = prepared('renew_held', `UPDATE alerts a SET due_at = now() + ${intervalFromMs(2)}
    FROM unnest($3::text[], $4::integer[]) AS h(id, token)
    WHERE a.id = h.id AND a.lease_token = h.token AND a.lease_owner = $1 AND a.state = 'processing'
    RETURNING a.id`)

/**
 * Every other alert leased by owner $1 (not one of the $2 ids with the $3 tokens) given back, due now, the
 * attempt not counted: a claim that committed after the worker stopped waiting for it.
 */
export const RELEASE_UNHELD = `WITH t AS (
      UPDATE alerts a SET state = CASE WHEN a.attempts - 1 > 0 THEN 'retrying' ELSE 'queued' END, attempts = a.attempts - 1,
        due_at = now(), lease_owner = NULL, updated_at = now()
      WHERE a.lease_owner = $1 AND a.state = 'processing'
        AND NOT EXISTS (SELECT 1 FROM unnest($2::text[], $3::integer[]) AS h(id, token) WHERE h.id = a.id AND h.token = a.lease_token)
      RETURNING a.seq, a.state
    ), ev AS (
      INSERT INTO alert_events (alert_seq, state, note) SELECT seq, state, 'released: its claim never reached the worker (attempt not counted)' FROM t
    ), ${wakeIf('t')}
    SELECT (SELECT count(*) FROM t)::integer AS n, (SELECT count(*) FROM wake) AS w`

/** The leases owner $1 holds: id and token, to release each under its token. */
export const LEASED_BY_OWNER = 'SELECT id, lease_token FROM alerts WHERE lease_owner = $1 AND state = \'processing\''

/** Distinct owners of current leases. */
export const LEASE_OWNERS = 'SELECT DISTINCT lease_owner AS owner FROM alerts WHERE state = \'processing\' AND lease_owner IS NOT NULL'

/**
 * An operator's claim on alert $1 for owner $2, $3 ms, in any state but under another live lease (no attempt
 * counted). Returns the row when it was taken over; none when a live lease holds it, or it was purged, or
 * there is no such alert (ALERT_EXISTS tells which).
 */
export const TAKEOVER = `WITH t AS (
      UPDATE alerts SET state = 'processing', lease_owner = $2, lease_token = lease_token + 1,
        due_at = now() + ${intervalFromMs(3)}, updated_at = now()
      WHERE id = $1 AND NOT (state = 'processing' AND due_at > now()) AND purged_at IS NULL
      RETURNING *
    ), ev AS (
      INSERT INTO alert_events (alert_seq, state, note) SELECT seq, 'processing', 'taken over by ' || $2 FROM t
    )
    SELECT * FROM t`

/** Whether alert $1 exists. */
export const ALERT_EXISTS = 'SELECT 1 FROM alerts WHERE id = $1'

// ---- queue: lease-guarded transitions ----------------------------------------------------------------

/**
 * A lease-guarded transition: `set` changes alert $1 only for the holder of token $2 while it is processing,
 * records the state it produced with note `$noteParam`, writes the attempt's step writes (`stepWrites`, from
 * parameter `steps`) and (`wake`) notifies the replicas when it leaves work due now. Returns `n` (1: changed, 0:
 * the lease was lost, and nothing was written).
 */
function leaseGuardedTransition (name: string, set: string, noteParam: number, steps: number, wake = false): Prepared {
  return prepared(name, `WITH t AS (
      UPDATE alerts SET ${set}, updated_at = now()
      WHERE id = $1 AND lease_token = $2 AND state = 'processing' RETURNING seq, state
    ), ev AS (
      INSERT INTO alert_events (alert_seq, state, note) SELECT seq, state, $${noteParam} FROM t
    ), ${stepWrites('t', steps)}${wake ? `, ${wakeIf('t')}` : ''}
    SELECT (SELECT count(*) FROM t)::integer AS n${wake ? ', (SELECT count(*) FROM wake) AS w' : ''}`)
}

/** Done: $3 outcome, $4 users, $5 actions (JSON), $6 note; step writes from $7. */
export const FINISH = leaseGuardedTransition('finish', `state = 'done', outcome = $3, users = $4, actions = $5, lease_owner = NULL, due_at = NULL,
    completed_at = now(), last_error = NULL`, 6, 7)
/** Retrying in $3 ms: $4 error, $5 actions (JSON), $6 note; step writes from $7. */
export const RETRY = leaseGuardedTransition('retry', `state = 'retrying', due_at = now() + ${intervalFromMs(3)}, last_error = $4, actions = $5, lease_owner = NULL`, 6, 7)
/** Dead: $3 reason, $4 actions (JSON), $5 note, $6 outcome, $7 users (JSON, null: keep); step writes from $8. */
export const KILL = leaseGuardedTransition('kill', `state = 'dead', outcome = $6, users = coalesce($7::jsonb, users), last_error = $3, actions = $4, lease_owner = NULL,
    due_at = NULL, completed_at = now()`, 5, 8)
/** Waiting $3 ms (a grace period): $4 users, $5 actions (JSON), $6 note; step writes from $7. */
export const WAIT = leaseGuardedTransition('wait', `state = 'waiting', due_at = now() + ${intervalFromMs(3)}, users = $4, actions = $5, lease_owner = NULL`, 6, 7)
/** Given back, due now: $3 attempts refunded (0 or 1), $4 note; step writes from $5. Wakes the replicas. */
export const RELEASE = leaseGuardedTransition('release', `state = CASE WHEN attempts - $3 > 0 THEN 'retrying' ELSE 'queued' END, attempts = attempts - $3,
    due_at = now(), lease_owner = NULL`, 4, 5, true)

// ---- queue: operators and the scheduler --------------------------------------------------------------

/**
 * dead → queued, attempts reset, due now, failed steps pending again: the ids in $1, or every dead alert
 * when $1 is null. Returns the ids moved; wakes the replicas when any moved.
 */
export const REPLAY = `WITH moved AS (
      UPDATE alerts SET state = 'queued', attempts = 0, due_at = now(), outcome = NULL, last_error = NULL,
        completed_at = NULL, updated_at = now()
      WHERE state = 'dead' AND purged_at IS NULL AND ($1::text[] IS NULL OR id = ANY ($1::text[]))
      RETURNING seq, id
    ), ev AS (
      INSERT INTO alert_events (alert_seq, state, note) SELECT seq, 'queued', 'replayed' FROM moved
    ), st AS (
      UPDATE steps SET state = 'pending', detail = 'replayed after: ' || coalesce(detail, 'failure'), due_at = now(), updated_at = now()
      WHERE alert_seq IN (SELECT seq FROM moved) AND state = 'failed'
    ), ${wakeIf('moved')}
    SELECT id, (SELECT count(*) FROM wake) AS w FROM moved`

/** Alerts waiting for a retry become due now; returns how many (`n`) and wakes the replicas when any. */
export const EXPEDITE = `WITH moved AS (
      UPDATE alerts SET due_at = now(), updated_at = now() WHERE due_at > now() AND state = 'retrying' RETURNING 1
    ), ${wakeIf('moved')}
    SELECT (SELECT count(*) FROM moved)::integer AS n, (SELECT count(*) FROM wake) AS w`

/** Milliseconds until the next alert is due (`ms`, ≤ 0: due now; null: none waits). */
export const NEXT_DUE_IN = prepared('next_due_in', 'SELECT (extract(epoch FROM min(due_at) - now()) * 1000)::float8 AS ms FROM alerts WHERE due_at IS NOT NULL')

/** Seconds since the oldest queued or retrying alert was received (`s`, null: none). */
export const OLDEST_QUEUED_AGE = 'SELECT extract(epoch FROM now() - min(received_at))::float8 AS s FROM alerts WHERE state IN (\'queued\', \'retrying\')'

// ---- steps -------------------------------------------------------------------------------------------

/**
 * Plans the steps of alert $1 under token $2 (the lease check and the insert are one statement): one array
 * per column in $3..$10 (user, tenant, email, action, phase, due in ms, skipped reason, verdict). Steps that
 * exist are kept. Returns the steps it inserted, in plan order.
 */
export const PLAN_STEPS = `WITH a AS (SELECT seq FROM alerts WHERE id = $1 AND lease_token = $2 AND state = 'processing'),
    ins AS (
      INSERT INTO steps (alert_seq, user_id, tenant_id, email, action, phase, due_at, state, detail, result)
      SELECT a.seq, s.user_id, s.tenant_id, s.email, s.action, s.phase, now() + make_interval(secs => s.due_ms / 1000),
        CASE WHEN s.skipped IS NULL THEN 'pending' ELSE 'skipped' END, s.skipped,
        CASE WHEN s.verdict IS NULL THEN NULL ELSE jsonb_build_object('verdict', s.verdict) END
      FROM a, unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::double precision[], $9::text[], $10::text[])
        WITH ORDINALITY AS s(user_id, tenant_id, email, action, phase, due_ms, skipped, verdict, ord)
      ORDER BY s.ord
      ON CONFLICT (alert_seq, user_id, action) DO NOTHING
      RETURNING steps.*
    )
    SELECT * FROM ins ORDER BY seq`

/**
 * An attempt's step writes (store/types.ts `StepWrites`) for the alert of CTE `anchor` (its `seq`), as two CTEs
 * (`planned`, `changed`): its plan, one array per column from $`first` (user, tenant, email, action, phase, due in ms,
 * state, detail, HTTP status, result, undo: 11 arrays), then its changes from $`first`+11 (user, action, state — null:
 * only the marker cleared —, detail, HTTP status, result, undo: 7 arrays). Steps that exist are kept. With `marks`
 * (the parameters of two arrays: users and actions), the planned steps they name are inserted with their marker set.
 */
export function stepWrites (anchor: string, first: number, marks?: [number, number]): string {
  const $ = (i: number): string => `$${first + i}`
  const started = marks === undefined
    ? 'NULL::timestamptz'
    : `CASE WHEN EXISTS (SELECT 1 FROM unnest($${marks[0]}::text[], $${marks[1]}::text[]) AS m(user_id, action)
          WHERE m.user_id = p.user_id AND m.action = p.action) THEN now() END`
  return `planned AS (
      INSERT INTO steps (alert_seq, user_id, tenant_id, email, action, phase, due_at, state, detail, http_status, result, undo, started_at, updated_at)
      SELECT x.seq, p.user_id, p.tenant_id, p.email, p.action, p.phase, now() + make_interval(secs => p.due_ms / 1000), p.state, p.detail,
        p.http_status, p.result::jsonb, p.undo::jsonb, ${started}, now()
      FROM ${anchor} x, unnest(${$(0)}::text[], ${$(1)}::text[], ${$(2)}::text[], ${$(3)}::text[], ${$(4)}::text[], ${$(5)}::double precision[],
          ${$(6)}::text[], ${$(7)}::text[], ${$(8)}::integer[], ${$(9)}::text[], ${$(10)}::text[])
        WITH ORDINALITY AS p(user_id, tenant_id, email, action, phase, due_ms, state, detail, http_status, result, undo, ord)
      ORDER BY p.ord
      ON CONFLICT (alert_seq, user_id, action) DO NOTHING
      RETURNING started_at IS NOT NULL AS begun
    ), changed AS (
      UPDATE steps s SET state = coalesce(c.state, s.state), detail = CASE WHEN c.state IS NULL THEN s.detail ELSE c.detail END,
        http_status = CASE WHEN c.state IS NULL THEN s.http_status ELSE c.http_status END, started_at = NULL,
        result = coalesce(c.result::jsonb, s.result), undo = coalesce(c.undo::jsonb, s.undo),
        updated_at = CASE WHEN c.state IS NULL THEN s.updated_at ELSE now() END
      FROM unnest(${$(11)}::text[], ${$(12)}::text[], ${$(13)}::text[], ${$(14)}::text[], ${$(15)}::integer[], ${$(16)}::text[], ${$(17)}::text[])
        AS c(user_id, action, state, detail, http_status, result, undo)
      WHERE s.alert_seq = (SELECT seq FROM ${anchor}) AND s.user_id = c.user_id AND s.action = c.action
      RETURNING 1
    )`
}

/**
 * `steps.start`: under token $2 of alert $1, before that lease expires by now(), writes the step writes from $5,
 * then sets the markers of the pending steps of users $3 and actions $4 (two arrays; inserted with them when the
 * plan carries them). Returns `n`, how many markers were set. It runs on the worker's connections, but its own
 * transaction commits with the WAL flush (`synchronous_commit` on until it ends): the markers survive a crash of
 * PostgreSQL, as a webhook insert does.
 */
export const START_STEP = prepared('start_step', `WITH a AS (
      SELECT seq FROM alerts WHERE id = $1 AND lease_token = $2 AND state = 'processing' AND due_at > now()
    ), ${stepWrites('a', 5, [3, 4])}, begun AS (
      UPDATE steps s SET started_at = now() FROM unnest($3::text[], $4::text[]) AS m(user_id, action)
      WHERE s.alert_seq = (SELECT seq FROM a) AND s.user_id = m.user_id AND s.action = m.action AND s.state = 'pending'
      RETURNING 1
    )
    SELECT ((SELECT count(*) FROM begun) + (SELECT count(*) FROM planned WHERE begun))::integer AS n,
      set_config('synchronous_commit', 'on', true) AS flushed`)

/** A row when token $2 still holds the lease of alert $1. */
export const LEASE_IS_CURRENT = 'SELECT 1 FROM alerts WHERE id = $1 AND lease_token = $2 AND state = \'processing\''

/** Step $3 of alert $1 started (its marker set), only under token $2 and before that lease expires by now(). */
export const BEGIN_STEP = `UPDATE steps SET started_at = now()
    WHERE seq = $3 AND state = 'pending'
      AND alert_seq = (SELECT seq FROM alerts WHERE id = $1 AND lease_token = $2 AND state = 'processing' AND due_at > now())`

/** Step $3 of alert $1 (token $2) no longer marked started: its call certainly did not take effect. */
export const UNBEGIN_STEP = `UPDATE steps SET started_at = NULL
    WHERE seq = $3 AND state = 'pending'
      AND alert_seq = (SELECT seq FROM alerts WHERE id = $1 AND lease_token = $2 AND state = 'processing')`

/** The steps of alert $1 (by id), in plan order. */
/** The alerts (ids, newest first, at most $2) with a step for user $1. */
export const ALERTS_OF_USER = `SELECT alerts.id FROM alerts WHERE alerts.seq IN (SELECT alert_seq FROM steps WHERE user_id = $1)
    ORDER BY alerts.seq DESC LIMIT $2`
export const STEPS_OF_ALERT = 'SELECT steps.* FROM steps JOIN alerts ON alerts.seq = steps.alert_seq WHERE alerts.id = $1 ORDER BY steps.seq'

/**
 * Step $3 of alert $1, under token $2: $4 state, $5 detail, $6 HTTP status, $7 result and $8 undo (JSON, null:
 * keep). Changes one row, or none when the lease was lost.
 */
export const UPDATE_STEP = `UPDATE steps SET state = $4, detail = $5, http_status = $6, started_at = NULL, result = coalesce($7::jsonb, result),
      undo = coalesce($8::jsonb, undo), updated_at = now()
    WHERE seq = $3 AND alert_seq = (SELECT seq FROM alerts WHERE id = $1 AND lease_token = $2 AND state = 'processing')`

/** The compromised-users report: steps of alerts received since $1 (tenant $2, null: all), newest alert first, $3 rows at most. */
export const STEP_REPORT = `SELECT steps.*, alerts.id AS alert_id, alerts.exposure_id AS exposure_id, alerts.source AS alert_source, alerts.received_at AS received_at
    FROM steps JOIN alerts ON alerts.seq = steps.alert_seq
    WHERE alerts.received_at >= $1 AND ($2::text IS NULL OR steps.tenant_id = $2)
    ORDER BY alerts.seq DESC, steps.seq LIMIT $3`

/** The distinct tenant ids of the steps starting with $1 (lower-case), sorted, $2 at most. */
export const STEP_TENANTS = `SELECT DISTINCT lower(tenant_id) AS tenant_id FROM steps
    WHERE tenant_id IS NOT NULL AND left(lower(tenant_id), length($1)) = $1 ORDER BY 1 LIMIT $2`

// ---- key/value (meta) --------------------------------------------------------------------------------

export const GET_META = 'SELECT value FROM meta WHERE key = $1'
export const SET_META = 'INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value'
export const DELETE_META = 'DELETE FROM meta WHERE key = $1'
/** Changes one row when this call set key $1. */
export const PUT_META_IF_ABSENT = 'INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING'

// ---- outbox ------------------------------------------------------------------------------------------

/** Message $1 of kind $2, payload $3 (JSON), due now, unless one with this key exists. */
/** Owners of the leases on unsent outbox messages. */
export const OUTBOX_OWNERS = 'SELECT DISTINCT lease_owner AS owner FROM outbox WHERE sent_at IS NULL AND lease_owner IS NOT NULL'

/** Unsent messages leased by owner $1, due now. */
export const OUTBOX_RELEASE_ALL = 'UPDATE outbox SET lease_owner = NULL, due_at = now() WHERE lease_owner = $1 AND sent_at IS NULL'

export const OUTBOX_ADD = 'INSERT INTO outbox (key, kind, payload, due_at) VALUES ($1, $2, $3, now()) ON CONFLICT (key) DO NOTHING'

/** Leases up to $2 due messages of the kinds $4 to owner $1 for $3 ms (SKIP LOCKED, as CLAIM). */
export const OUTBOX_CLAIM = `WITH due AS MATERIALIZED (
      SELECT seq FROM outbox WHERE due_at <= now() AND kind = ANY($4::text[]) ORDER BY due_at, seq LIMIT $2 FOR UPDATE SKIP LOCKED
    )
    UPDATE outbox o SET lease_owner = $1, lease_token = o.lease_token + 1, due_at = now() + ${intervalFromMs(3)},
      attempts = o.attempts + 1
    FROM due WHERE o.seq = due.seq
    RETURNING o.key, o.kind, o.payload, o.attempts, o.created_at, o.lease_owner, o.lease_token, ${FLUSHED}`

/** Message $1 sent, under token $2: its payload (personal data, for FusionAuth's events) is not kept. */
export const OUTBOX_SENT = `UPDATE outbox SET sent_at = now(), due_at = NULL, lease_owner = NULL, last_error = NULL, payload = '{}'
    WHERE key = $1 AND lease_token = $2 AND sent_at IS NULL`

/** Message $1, under token $2, due again in $3 ms after error $4. */
export const OUTBOX_RETRY = `UPDATE outbox SET due_at = now() + ${intervalFromMs(3)}, lease_owner = NULL, last_error = $4
    WHERE key = $1 AND lease_token = $2 AND sent_at IS NULL`

// ---- exposure cache ----------------------------------------------------------------------------------

/** Exposure $1's details when fetched less than $2 ms ago. */
export const GET_EXPOSURE = `SELECT details FROM exposures WHERE exposure_id = $1 AND fetched_at >= now() - ${intervalFromMs(2)}`
/** Exposure $1's details $2 (JSON), fetched now. */
export const PUT_EXPOSURE = `INSERT INTO exposures (exposure_id, details, fetched_at) VALUES ($1, $2, now())
    ON CONFLICT (exposure_id) DO UPDATE SET details = excluded.details, fetched_at = excluded.fetched_at`
