// The baseline for bench/ingest.ts: a bare Fastify server that answers the webhook without
// authenticating, parsing or storing anything. Listens on 127.0.0.1:$PORT.
import Fastify from 'fastify'

const app = Fastify({ logger: false })
app.post('/webhooks/enzoic', async () => ({ status: 'accepted' }))
app.get('/healthz', async () => ({ status: 'ok' }))
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) })
process.on('SIGTERM', () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
