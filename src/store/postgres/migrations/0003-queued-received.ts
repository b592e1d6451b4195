// The age of the oldest waiting alert (a metric scraped every few seconds) without a scan of the queue.
export default `
CREATE INDEX alerts_queued_received ON alerts (received_at) WHERE state IN ('queued', 'retrying');
`
