// One due time for the queue (`due_at`: when a queued or retrying alert is due, or when a processing
// alert's lease expires; NULL once finished), a fencing token per claim, and purge tombstones.
export default `ALTER TABLE alerts ADD COLUMN due_at INTEGER;
   ALTER TABLE alerts ADD COLUMN lease_token INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE alerts ADD COLUMN purged_at INTEGER;
   UPDATE alerts SET due_at = CASE WHEN state IN ('queued', 'retrying') THEN next_attempt_at
                                   WHEN state = 'processing' THEN lease_until END;
   DROP INDEX alerts_due;
   DROP INDEX alerts_lease;
   ALTER TABLE alerts DROP COLUMN next_attempt_at;
   ALTER TABLE alerts DROP COLUMN lease_until;
   CREATE INDEX alerts_due ON alerts (due_at) WHERE due_at IS NOT NULL;
   CREATE INDEX alerts_leased ON alerts (lease_owner) WHERE state = 'processing';
   CREATE INDEX alerts_finished ON alerts (completed_at) WHERE completed_at IS NOT NULL AND purged_at IS NULL;`
