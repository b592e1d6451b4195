// Where an alert came from: Enzoic's breach monitoring (`enzoic`) or FusionAuth's breached-password detection at
// login (`fusionauth`, docs/design.md §13). Rows from before are Enzoic's.
export default "ALTER TABLE alerts ADD COLUMN source text NOT NULL DEFAULT 'enzoic';"
