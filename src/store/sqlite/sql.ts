// Every statement of the SQLite store, one named constant per operation; the names match postgres/sql.ts
// where the operation is the same. Conventions that hold for all of them:
// - Instants are epoch ms. `@now` is the time of the group commit the statement runs in (one per batch,
//   taken by the store's clock); due times and lease expiries arrive computed from it (`@until`, `@due`).
// - A lease-guarded change names the alert's id AND its lease token in its WHERE clause: a stale holder's
//   statement changes nothing (fencing).
// - The queue's statements name their partial index (`INDEXED BY`): without statistics the planner would
//   walk another index instead.
// - A bound LIMIT is written `LIMIT CAST(? AS INTEGER)`: SQLite (3.53) reads a bare bound LIMIT (`LIMIT ?`) as a
//   constant when it prepares the statement, and marks the statement to be prepared again each time that parameter
//   is bound — with better-sqlite3, on every run. The claim spent most of its time being parsed and planned again
//   (issue 19); test/store/sqlite-statements.test.ts keeps every statement here free of it.
// Writes run on the writer's connection inside the group commit (operations.ts); reads on the main
// thread's own connection. The wiring is in alerts.ts, queue.ts, steps.ts, kv.ts, outbox.ts, exposures.ts.

// ---- alerts: intake ----------------------------------------------------------------------------------

/** One alert, unless its idempotency key exists (then it changes nothing). A test alert arrives finished. */
export const INSERT_ALERT = `INSERT INTO alerts (id, idempotency_key, test, state, received_at, updated_at, exposure_id, email,
        username_hash, custom_data, exposure_date, had_password, password_type, password_type_name, exposure_details, extra,
        warnings, source_ip, last_delivery_at, due_at, outcome, completed_at, source)
      VALUES (@id, @key, @test, @state, @now, @now, @exposureId, @email, @usernameHash, @customData, @exposureDate, @hadPassword,
        @passwordType, @passwordTypeName, @exposureDetails, @extra, @warnings, @sourceIp, @now, @dueAt, @outcome, @completedAt, @source)
      ON CONFLICT (idempotency_key) DO NOTHING`

/** A repeated delivery of key ?2 at ?1, counted on its first row; returns that row's id and test flag. */
export const COUNT_DUPLICATE_DELIVERY = `UPDATE alerts SET deliveries = deliveries + 1, last_delivery_at = ?
      WHERE idempotency_key = ? RETURNING id, test`

// ---- alerts: reads -----------------------------------------------------------------------------------

export const GET_ALERT = 'SELECT * FROM alerts WHERE id = ?'
/** The part of an alert's history its row holds (by id). */
export const ALERT_RECEIPT = 'SELECT seq, received_at, test FROM alerts WHERE id = ?'
/** The recorded history of an alert (by seq), oldest first. */
export const ALERT_EVENTS = 'SELECT at, state, note FROM alert_events WHERE alert_seq = ? ORDER BY rowid'
/** `alerts.list`: `where` from listFilter, then the limit. */
export const listAlerts = (where: string): string => `SELECT * FROM alerts ${where} ORDER BY seq DESC LIMIT CAST(? AS INTEGER)`
export const COUNT_BY_STATE = 'SELECT state, count(*) AS n FROM alerts GROUP BY state'
export const COUNT_BY_OUTCOME = 'SELECT outcome, count(*) AS n FROM alerts WHERE outcome IS NOT NULL GROUP BY outcome'
/** Alerts in one state (the summary's dead and waiting). */
export const COUNT_IN_STATE = 'SELECT count(*) AS n FROM alerts WHERE state = ?'
/** What finished in [?1, ?2), by outcome (null: none). */
export const SUMMARY_COUNTS = `SELECT outcome, count(*) AS n FROM alerts INDEXED BY alerts_finished
      WHERE completed_at IS NOT NULL AND purged_at IS NULL AND completed_at >= ? AND completed_at < ? GROUP BY outcome`
/** The first ?3 of what finished in [?1, ?2), oldest first. */
export const SUMMARY_FIRST = `SELECT * FROM alerts INDEXED BY alerts_finished
      WHERE completed_at IS NOT NULL AND purged_at IS NULL AND completed_at >= ? AND completed_at < ? ORDER BY completed_at LIMIT CAST(? AS INTEGER)`

// ---- alerts: retention (one slice of alerts.purge; the slicing is shared/alerts.ts) -------------------

/** Up to ?2 alerts finished at or before ?1 whose personal data remains. */
export const PURGEABLE = `SELECT seq, id, idempotency_key, completed_at FROM alerts INDEXED BY alerts_finished
      WHERE completed_at IS NOT NULL AND purged_at IS NULL AND completed_at <= ? LIMIT CAST(? AS INTEGER)`
export const PURGE_EVENTS = 'DELETE FROM alert_events WHERE alert_seq = ?'
/**
 * The notify-ledger rows (KV.notified: `notified:<tenant>:<user>:<exposure, else the alert's id>`) that alert @seq
 * holds: built from its steps' users, kept only where the row's value names this alert (another alert of the same
 * exposure may hold it). Before PURGE_STEPS.
 */
export const PURGE_LEDGER = `DELETE FROM meta WHERE key IN (
        SELECT 'notified:' || s.tenant_id || ':' || s.user_id || ':' || coalesce(a.exposure_id, a.id)
        FROM steps s JOIN alerts a ON a.seq = s.alert_seq WHERE s.alert_seq = @seq)
      AND instr(value, '"alertId":"' || (SELECT id FROM alerts WHERE seq = @seq) || '"') > 0`
/**
 * The operator messages that name purged alerts (OUTBOX_KEYS): the `dead:<id>:…` message of each of @ids (a JSON
 * array); a digest whose window holds one's completion — started (its key) by @last, sent at or after @first, the
 * slice's earliest and latest completion a minute apart each way (the digest's builder and the store may keep
 * time a little apart); and any row made at or before @cutoff, the purge's own cut-off, that is an operator
 * message or was sent (work not yet done — an enrolment change — stays however old).
 */
export const PURGE_OUTBOX = `DELETE FROM outbox WHERE (created_at <= @cutoff AND (kind IN ('digest', 'dead', 'paused') OR sent_at IS NOT NULL))
      OR (key >= 'dead:' AND key < 'dead;' AND substr(key, 6, 36) IN (SELECT value FROM json_each(@ids)))
      OR (key >= 'digest:' AND key <= 'digest:' || @last AND created_at >= @first)`
export const PURGE_STEPS = 'DELETE FROM steps WHERE alert_seq = ?'
/** The row stays as a tombstone (idempotency key — @key: keyed under BRIDGE_TOMBSTONE_KEY, shared/tombstone.ts — state, outcome, dates). */
export const PURGE_ROW = `UPDATE alerts SET email = NULL, username_hash = NULL, custom_data = NULL, exposure_details = NULL,
        extra = NULL, warnings = NULL, source_ip = NULL, users = NULL, actions = NULL, last_error = NULL, purged_at = @now,
        idempotency_key = @key
      WHERE seq = @seq`
/** Up to ?1 tombstones whose idempotency key is not keyed yet (made before BRIDGE_TOMBSTONE_KEY was set). */
export const UNKEYED_TOMBSTONES = `SELECT seq, idempotency_key AS key FROM alerts
      WHERE purged_at IS NOT NULL AND substr(idempotency_key, 1, 5) <> 'hmac:' LIMIT CAST(? AS INTEGER)`
/** Tombstone @seq keyed: its idempotency key becomes @key. */
export const KEY_TOMBSTONE = 'UPDATE alerts SET idempotency_key = @key WHERE seq = @seq AND purged_at IS NOT NULL'

// ---- queue: history ----------------------------------------------------------------------------------

/** One event of an alert: ?1 its seq, ?2 at, ?3 state, ?4 note. */
export const RECORD_EVENT = 'INSERT INTO alert_events (alert_seq, at, state, note) VALUES (?, ?, ?, ?)'
/** One event of an alert by its id (?4): ?1 at, ?2 state, ?3 note. */
export const RECORD_EVENT_BY_ID = 'INSERT INTO alert_events (alert_seq, at, state, note) SELECT seq, ?, ?, ? FROM alerts WHERE id = ?'

// ---- queue: claims and leases ------------------------------------------------------------------------

/**
 * Leases up to @limit due alerts to @owner until @until, counting an attempt. Returns the alert rows: the columns
 * the worker reads, the others as NULL (store/types.ts `Claimed`).
 */
export const CLAIM = `UPDATE alerts SET state = 'processing', lease_owner = @owner, lease_token = lease_token + 1,
        due_at = @until, attempts = attempts + 1, updated_at = @now
      WHERE seq IN (SELECT seq FROM alerts INDEXED BY alerts_due WHERE due_at <= @now ORDER BY due_at LIMIT CAST(@limit AS INTEGER))
      RETURNING seq, id, test, state, received_at, updated_at, exposure_id, email, username_hash, custom_data, exposure_date, had_password,
        password_type, password_type_name, exposure_details, source, deliveries, attempts, due_at, lease_owner, lease_token, outcome, actions,
        NULL AS extra, NULL AS warnings, NULL AS source_ip, NULL AS users, NULL AS last_error, NULL AS completed_at, NULL AS purged_at`

/** A row when an earlier attempt planned steps for the alert (by seq). */
export const HAS_STEPS = 'SELECT 1 FROM steps WHERE alert_seq = ? LIMIT 1'

/** The leases an owner holds: id and token, to release each under its token. */
export const LEASED_BY_OWNER = `SELECT id, lease_token AS token FROM alerts INDEXED BY alerts_leased
      WHERE lease_owner = ? AND state = 'processing'`

/** Distinct owners of current leases. */
export const LEASE_OWNERS = 'SELECT DISTINCT lease_owner AS owner FROM alerts INDEXED BY alerts_leased WHERE state = \'processing\' AND lease_owner IS NOT NULL'

/**
 * An operator's claim on alert @id for @owner until @until, in any state but under another live lease (no
 * attempt counted). Returns the row when taken over; none when a live lease holds it, or it was purged, or
 * there is no such alert (ALERT_EXISTS tells which).
 */
export const TAKEOVER = `UPDATE alerts SET state = 'processing', lease_owner = @owner, lease_token = lease_token + 1,
        due_at = @until, updated_at = @now
      WHERE id = @id AND NOT (state = 'processing' AND due_at > @now) AND purged_at IS NULL RETURNING *`

export const ALERT_EXISTS = 'SELECT 1 FROM alerts WHERE id = ?'

// ---- queue: lease-guarded transitions (each returns the seq and state it produced, for its event) -----

/** Done: @outcome, @users, @actions (JSON). */
export const FINISH = `UPDATE alerts SET state = 'done', outcome = @outcome, users = @users, actions = @actions,
        lease_owner = NULL, due_at = NULL, completed_at = @now, updated_at = @now, last_error = NULL
      WHERE id = @id AND lease_token = @token AND state = 'processing' RETURNING seq, state`
/** Retrying at @due: @error, @actions (JSON). */
export const RETRY = `UPDATE alerts SET state = 'retrying', due_at = @due, last_error = @error, actions = @actions,
        lease_owner = NULL, updated_at = @now
      WHERE id = @id AND lease_token = @token AND state = 'processing' RETURNING seq, state`
/** Dead: @outcome, @users (JSON, null: keep), @error, @actions (JSON). */
export const KILL = `UPDATE alerts SET state = 'dead', outcome = @outcome, users = coalesce(@users, users), last_error = @error, actions = @actions,
        lease_owner = NULL, due_at = NULL, completed_at = @now, updated_at = @now
      WHERE id = @id AND lease_token = @token AND state = 'processing' RETURNING seq, state`
/** Given back, due now; @refund attempts (0 or 1) un-counted. */
export const RELEASE = `UPDATE alerts SET state = CASE WHEN attempts - @refund > 0 THEN 'retrying' ELSE 'queued' END,
        attempts = attempts - @refund, due_at = @now, lease_owner = NULL, updated_at = @now
      WHERE id = @id AND lease_token = @token AND state = 'processing' RETURNING seq, state`
/** Waiting until @due (a grace period): @users, @actions (JSON). */
export const WAIT = `UPDATE alerts SET state = 'waiting', due_at = @due, users = @users, actions = @actions,
        lease_owner = NULL, updated_at = @now
      WHERE id = @id AND lease_token = @token AND state = 'processing' RETURNING seq, state`

// ---- queue: operators and the clock ------------------------------------------------------------------

/** Every dead alert whose data remains, oldest first (`replay('dead')`). */
export const DEAD_IDS = 'SELECT id FROM alerts WHERE state = \'dead\' AND purged_at IS NULL ORDER BY seq'
/** Dead alert @id → queued, attempts reset, due now. Returns its id and seq when it moved. */
export const REPLAY_ALERT = `UPDATE alerts SET state = 'queued', attempts = 0, due_at = @now, outcome = NULL,
        last_error = NULL, completed_at = NULL, updated_at = @now
      WHERE id = @id AND state = 'dead' AND purged_at IS NULL RETURNING id, seq`
/** The failed steps of a replayed alert (@seq) become pending, due now. */
export const REPLAY_STEPS = `UPDATE steps SET state = 'pending', detail = 'replayed after: ' || coalesce(detail, 'failure'), due_at = @now, updated_at = @now
      WHERE alert_seq = @seq AND state = 'failed'`
/** Alerts waiting for a retry become due now. */
export const EXPEDITE = `UPDATE alerts INDEXED BY alerts_due SET due_at = @now, updated_at = @now
      WHERE due_at > @now AND state = 'retrying'`
/** The wall clock jumped by ?1 ms: every due time and lease expiry moves with it. */
export const SHIFT_DUE = 'UPDATE alerts INDEXED BY alerts_due SET due_at = due_at + ? WHERE due_at IS NOT NULL'
/** The earliest due time (`t`, null: none waits). */
export const NEXT_DUE_AT = 'SELECT min(due_at) AS t FROM alerts INDEXED BY alerts_due WHERE due_at IS NOT NULL'
/**
 * When the oldest queued or retrying alert was received (`t`). seq is the rowid: the oldest of each state
 * is the first entry of alerts_state for it.
 */
export const OLDEST_QUEUED_RECEIVED_AT = `SELECT received_at AS t FROM alerts WHERE seq = (SELECT min(s) FROM (
        SELECT min(seq) AS s FROM alerts WHERE state = 'queued' UNION ALL SELECT min(seq) FROM alerts WHERE state = 'retrying'))`

// ---- steps -------------------------------------------------------------------------------------------

/** The alert's seq when token ?2 still holds the lease of alert ?1. */
export const LEASE_IS_CURRENT = 'SELECT seq FROM alerts WHERE id = ? AND lease_token = ? AND state = \'processing\''

/** Step @stepId of alert @id started (its marker set), only under token @token before the lease expires (@now). */
export const BEGIN_STEP = `UPDATE steps SET started_at = @now
  WHERE seq = @stepId AND state = 'pending'
    AND alert_seq = (SELECT seq FROM alerts WHERE id = @id AND lease_token = @token AND state = 'processing' AND due_at > @now)`

/** Step @stepId of alert @id (token @token) no longer marked started: its call certainly did not take effect. */
export const UNBEGIN_STEP = `UPDATE steps SET started_at = NULL
  WHERE seq = @stepId AND state = 'pending'
    AND alert_seq = (SELECT seq FROM alerts WHERE id = @id AND lease_token = @token AND state = 'processing')`

/** One lease of the heartbeat, extended to @until while token @token is current. */
export const RENEW_LEASE = 'UPDATE alerts SET due_at = @until WHERE id = @id AND lease_token = @token AND state = \'processing\''
/** The steps of an alert by its seq, in plan order. */
export const STEPS_OF_ALERT_SEQ = 'SELECT * FROM steps WHERE alert_seq = ? ORDER BY seq'
/** The alerts (ids, newest first, at most ?2) with a step for user ?1. */
export const ALERTS_OF_USER = `SELECT alerts.id FROM alerts WHERE alerts.seq IN (SELECT alert_seq FROM steps WHERE user_id = ?)
      ORDER BY alerts.seq DESC LIMIT CAST(? AS INTEGER)`
export const STEPS_OF_ALERT = 'SELECT steps.* FROM steps JOIN alerts ON alerts.seq = steps.alert_seq WHERE alerts.id = ? ORDER BY steps.seq'
/** Step @stepId of the alert @alertSeq (whose lease was checked in the same transaction); @result, @undo null: keep. */
export const UPDATE_STEP = `UPDATE steps SET state = @state, detail = @detail, http_status = @httpStatus, started_at = NULL,
        result = coalesce(@result, result), undo = coalesce(@undo, undo), updated_at = @now
      WHERE seq = @stepId AND alert_seq = @alertSeq`
// ---- steps carried by the worker's writes (store/types.ts StepWrites; the columns: shared/step-writes.ts) --

/** The alert's seq when token ?2 holds the lease of alert ?1 and it has not expired at ?3. */
export const LEASE_IS_CURRENT_AT = 'SELECT seq FROM alerts WHERE id = ? AND lease_token = ? AND state = \'processing\' AND due_at > ?'
/** A planned step as it stands (with a carried result, if any), unless the alert has it already (one per alert, user and action). */
export const CARRIED_PLAN_STEP = `INSERT INTO steps (alert_seq, user_id, tenant_id, email, action, phase, due_at, state, detail, http_status, result, undo, updated_at)
      VALUES (@alertSeq, @userId, @tenantId, @email, @action, @phase, @due, @state, @detail, @httpStatus, @result, @undo, @now)
      ON CONFLICT (alert_seq, user_id, action) DO NOTHING`
/** A recorded result of the step of @userId and @action of the alert @alertSeq (as UPDATE_STEP). */
export const CARRIED_STEP_CHANGE = `UPDATE steps SET state = @state, detail = @detail, http_status = @httpStatus, started_at = NULL,
        result = coalesce(@result, result), undo = coalesce(@undo, undo), updated_at = @now
      WHERE alert_seq = @alertSeq AND user_id = @userId AND action = @action`
/** The marker of the step of user ?2 and action ?3 of the alert ?1 cleared (as UNBEGIN_STEP). */
export const CARRIED_STEP_UNBEGIN = 'UPDATE steps SET started_at = NULL WHERE alert_seq = ? AND user_id = ? AND action = ?'
/** The marker of the pending step of @userId and @action of the alert @alertSeq set at @now. */
export const START_STEP = `UPDATE steps SET started_at = @now
      WHERE alert_seq = @alertSeq AND user_id = @userId AND action = @action AND state = 'pending'`

/** The compromised-users report: steps of alerts received since @since (tenant @tenant, null: all), newest alert first. */
export const STEP_REPORT = `SELECT steps.*, alerts.id AS alert_id, alerts.exposure_id AS exposure_id, alerts.source AS alert_source, alerts.received_at AS received_at
      FROM steps JOIN alerts ON alerts.seq = steps.alert_seq
      WHERE alerts.received_at >= @since AND (@tenant IS NULL OR steps.tenant_id = @tenant)
      ORDER BY alerts.seq DESC, steps.seq`

/** The distinct tenant ids of the steps starting with @prefix (lower-case), sorted, @limit at most. */
export const STEP_TENANTS = `SELECT DISTINCT lower(tenant_id) AS tenant_id FROM steps
      WHERE tenant_id IS NOT NULL AND substr(lower(tenant_id), 1, length(@prefix)) = @prefix ORDER BY 1 LIMIT CAST(@limit AS INTEGER)`

// ---- key/value (meta) --------------------------------------------------------------------------------

export const GET_META = 'SELECT value FROM meta WHERE key = ?'
export const SET_META = 'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'
export const DELETE_META = 'DELETE FROM meta WHERE key = ?'
/** Changes one row when this call set the key. */
export const PUT_META_IF_ABSENT = 'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING'

// ---- outbox ------------------------------------------------------------------------------------------

/** A message (key, kind, payload JSON, created at, due at), unless one with this key exists. */
/** Owners of the leases on unsent outbox messages. */
export const OUTBOX_OWNERS = 'SELECT DISTINCT lease_owner AS owner FROM outbox WHERE sent_at IS NULL AND lease_owner IS NOT NULL'

/** Unsent messages leased by @owner, due now (@now). */
export const OUTBOX_RELEASE_ALL = 'UPDATE outbox SET lease_owner = NULL, due_at = @now WHERE lease_owner = @owner AND sent_at IS NULL'

export const OUTBOX_ADD = `INSERT INTO outbox (key, kind, payload, created_at, due_at) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (key) DO NOTHING`
/** Leases up to @limit due messages of the kinds @kinds (a JSON array) to @owner until @until. */
export const OUTBOX_CLAIM = `UPDATE outbox SET lease_owner = @owner, lease_token = lease_token + 1, due_at = @until,
        attempts = attempts + 1
      WHERE seq IN (SELECT seq FROM outbox INDEXED BY outbox_due WHERE due_at <= @now AND kind IN (SELECT value FROM json_each(@kinds))
        ORDER BY due_at, seq LIMIT CAST(@limit AS INTEGER))
      RETURNING key, kind, payload, attempts, created_at, lease_owner, lease_token`
/** Message @key sent, under @token: its payload (personal data, for FusionAuth's events) is not kept. */
export const OUTBOX_SENT = `UPDATE outbox SET sent_at = @now, due_at = NULL, lease_owner = NULL, last_error = NULL, payload = '{}'
      WHERE key = @key AND lease_token = @token AND sent_at IS NULL`
/** Message @key, under @token, due again at @due after @error. */
export const OUTBOX_RETRY = `UPDATE outbox SET due_at = @due, lease_owner = NULL, last_error = @error
      WHERE key = @key AND lease_token = @token AND sent_at IS NULL`

// ---- exposure cache ----------------------------------------------------------------------------------

/** An exposure's details when fetched at or after ?2. */
export const GET_EXPOSURE = 'SELECT details FROM exposures WHERE exposure_id = ? AND fetched_at >= ?'
/** An exposure's details (JSON), fetched at ?3. */
export const PUT_EXPOSURE = `INSERT INTO exposures (exposure_id, details, fetched_at) VALUES (?, ?, ?)
      ON CONFLICT (exposure_id) DO UPDATE SET details = excluded.details, fetched_at = excluded.fetched_at`
