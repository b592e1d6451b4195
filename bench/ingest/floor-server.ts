// The durable floor for bench/ingest.ts: the least a webhook can do and still answer 200 only for an alert that is
// on disk. node:http, one thread: the Basic credentials checked in constant time (a SHA-256 of the header against
// the expected one's, timingSafeEqual), the body parsed as JSON, and the requests that arrived in one turn of the
// event loop inserted in one transaction of better-sqlite3 (WAL, synchronous=FULL: fsync'd before the answers),
// one row per alert keyed by exposureID + username (a repeat is ignored). No validation, no logging, no metrics,
// no writer thread: nothing the bridge adds. Listens on 127.0.0.1:$PORT; the database at $FLOOR_DATABASE;
// credentials $FLOOR_CREDENTIALS (key:secret).
import { createHash, timingSafeEqual } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import Database from 'better-sqlite3'

const db = new Database(process.env.FLOOR_DATABASE ?? 'floor.db')
db.pragma('journal_mode = WAL')
db.pragma('synchronous = FULL')
db.exec('CREATE TABLE IF NOT EXISTS alerts (key TEXT PRIMARY KEY, body TEXT NOT NULL, received_at INTEGER NOT NULL)')
const insert = db.prepare('INSERT OR IGNORE INTO alerts (key, body, received_at) VALUES (?, ?, ?)')
const insertAll = db.transaction((rows: Array<[string, string]>, at: number) => { for (const [k, b] of rows) insert.run(k, b, at) })

const digest = (s: string): Buffer => createHash('sha256').update(s).digest()
const expected = digest('Basic ' + Buffer.from(process.env.FLOOR_CREDENTIALS ?? 'key:secret').toString('base64'))

let pending: Array<{ key: string, body: string, res: ServerResponse }> = []
function commit (): void {
  const batch = pending
  pending = []
  try {
    insertAll(batch.map(p => [p.key, p.body]), Date.now())
    for (const p of batch) p.res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"accepted"}')
  } catch {
    for (const p of batch) p.res.writeHead(503).end()
  }
}

function webhook (req: IncomingMessage, res: ServerResponse): void {
  if (!timingSafeEqual(digest(req.headers.authorization ?? ''), expected)) { req.resume(); res.writeHead(401).end(); return }
  const chunks: Buffer[] = []
  req.on('data', (c: Buffer) => chunks.push(c))
  req.on('end', () => {
    let alert: { exposureID?: unknown, username?: unknown }
    const body = Buffer.concat(chunks).toString('utf8')
    try { alert = JSON.parse(body) } catch { res.writeHead(400).end(); return }
    if (typeof alert?.exposureID !== 'string' || typeof alert.username !== 'string') { res.writeHead(400).end(); return }
    if (pending.length === 0) setImmediate(commit)
    pending.push({ key: `${alert.exposureID}\n${alert.username}`, body, res })
  })
}

const server = createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/webhooks/enzoic') webhook(req, res)
  else if (req.method === 'GET' && req.url === '/healthz') res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}')
  else { req.resume(); res.writeHead(404).end() }
})
server.keepAliveTimeout = 60_000
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1')
process.on('SIGTERM', () => { server.close(); server.closeAllConnections(); db.close(); process.exit(0) })
