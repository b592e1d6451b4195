// PostgreSQL set up wrongly is a configuration error (exit 2) that names the cause, never "retry later" (3), which
// loops under systemd's Restart=on-failure; sslmode means what libpq documents. A real cluster with TLS and passwords.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import pg from 'pg'
import { startPostgres } from '../fixtures/postgres.js'
import { cli } from '../fixtures/in-process.js'
import { runChecks } from '../../src/operations/check.js'
import { clientConfig } from '../../src/store/postgres/connection.js'
import { testEnv, tmpDir } from '../helper.js'

const PASSWORD = 'Pg-Right-Pw-2718'

test('PostgreSQL: a wrong password, a missing database and every sslmode, as the operator meets them', async t => {
  const cluster = await startPostgres(t, {
    ssl: true,
    hba: ['local all all trust', 'host all postgres 127.0.0.1/32 trust', 'host all all 127.0.0.1/32 scram-sha-256']
  })
  if (cluster === undefined) return
  await cluster.query(`CREATE ROLE bridge_cfg LOGIN PASSWORD '${PASSWORD}'`)
  const db = new URL(await cluster.createDatabase()).pathname.slice(1)
  await cluster.query(`ALTER DATABASE "${db}" OWNER TO bridge_cfg`)
  const url = (opts: { password?: string, database?: string, host?: string, query?: string } = {}): string =>
    `postgres://bridge_cfg:${opts.password ?? PASSWORD}@${opts.host ?? '127.0.0.1'}:${cluster.port}/${opts.database ?? db}${opts.query === undefined ? '' : `?${opts.query}`}`
  const ca = join(cluster.dir, 'server.crt')
  const warnings: string[] = []
  const onWarning = (w: Error): void => { warnings.push(w.message) }
  process.on('warning', onWarning)
  t.after(() => { process.off('warning', onWarning) })

  await t.test('a wrong password: exit 2, the role named, the password never', async () => {
    for (const args of [['migrate'], ['alerts', 'list']]) {
      const r = await cli(args, { BRIDGE_DATABASE: url({ password: 'Wrong-Pw-31337', query: 'sslmode=disable' }) })
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
      assert.match(r.stderr, /^breach-bridge: postgres:\/\/bridge_cfg:\*\*\*@127\.0\.0\.1:\d+\/\S+ \(BRIDGE_DATABASE\): PostgreSQL refused the password of role "bridge_cfg" \(28P01\): fix the password/)
      assert.equal(r.stderr.split('\n').length, 2, 'one line')
      assert.ok(!r.stderr.includes('Wrong-Pw-31337'))
    }
    const report = await runChecks(testEnv(tmpDir(t), { BRIDGE_DATABASE: url({ password: 'Wrong-Pw-31337', query: 'sslmode=disable' }) }))
    assert.ok(report.checks.some(l => l.level === 'FAIL' && l.what === 'database' && /refused the password of role "bridge_cfg" \(28P01\)/.test(l.detail)), JSON.stringify(report.checks))
  })

  await t.test('a database that does not exist: exit 2, with the statement that creates it', async () => {
    const r = await cli(['migrate'], { BRIDGE_DATABASE: url({ database: 'no_such_db', query: 'sslmode=disable' }) })
    assert.equal(r.code, 2, r.stderr)
    assert.match(r.stderr, /the database "no_such_db" does not exist \(3D000\): create it \(CREATE DATABASE "no_such_db" OWNER "bridge_cfg"\)/)
  })

  await t.test('sslmode=require encrypts and does not verify (libpq), without a SECURITY WARNING', async () => {
    const r = await cli(['migrate'], { BRIDGE_DATABASE: url({ query: 'sslmode=require' }) })
    assert.equal(r.code, 0, r.stderr)
    const client = new pg.Client(clientConfig({ url: url({ query: 'sslmode=require' }) }))
    await client.connect()
    try {
      const [row] = (await client.query<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')).rows
      assert.equal(row?.ssl, true, 'encrypted')
    } finally {
      await client.end()
    }
    assert.equal((await cli(['alerts', 'list'], { BRIDGE_DATABASE: url({ query: 'sslmode=prefer' }) })).code, 0)
    assert.deepEqual(warnings.filter(w => /SECURITY WARNING/.test(w)), [])
  })

  await t.test('sslmode=verify-full needs the CA and the certificate\'s host name; verify-ca only the CA', async () => {
    const noCa = await cli(['alerts', 'list'], { BRIDGE_DATABASE: url({ query: 'sslmode=verify-full' }) })
    assert.equal(noCa.code, 2, noCa.stderr)
    assert.match(noCa.stderr, /TLS: the server's certificate cannot be verified \(DEPTH_ZERO_SELF_SIGNED_CERT\): give the CA that signed it as sslrootcert=/)
    const wrongName = await cli(['alerts', 'list'], { BRIDGE_DATABASE: url({ query: `sslmode=verify-full&sslrootcert=${ca}` }) })
    assert.equal(wrongName.code, 2, wrongName.stderr)
    assert.match(wrongName.stderr, /TLS: the server's certificate is not for this host name \(ERR_TLS_CERT_ALTNAME_INVALID\)/)
    assert.equal((await cli(['alerts', 'list'], { BRIDGE_DATABASE: url({ host: 'localhost', query: `sslmode=verify-full&sslrootcert=${ca}` }) })).code, 0)
    assert.equal((await cli(['alerts', 'list'], { BRIDGE_DATABASE: url({ query: `sslmode=verify-ca&sslrootcert=${ca}` }) })).code, 0)
    const missing = await cli(['alerts', 'list'], { BRIDGE_DATABASE: url({ query: `sslmode=verify-full&sslrootcert=${ca}.missing` }) })
    assert.equal(missing.code, 2, missing.stderr)
    assert.match(missing.stderr, /cannot read \S+server\.crt\.missing \(ENOENT\): check sslrootcert/)
  })

  await t.test('an sslmode libpq does not have, or verify-ca without a CA: a configuration problem naming BRIDGE_DATABASE', async () => {
    const r = await cli(['alerts', 'list'], { BRIDGE_DATABASE: url({ query: 'sslmode=no-verify' }) })
    assert.equal(r.code, 2, r.stderr)
    assert.match(r.stderr, /BRIDGE_DATABASE: sslmode=no-verify is not one the bridge knows: disable, prefer, require, verify-ca, verify-full/)
    const v = await cli(['alerts', 'list'], { BRIDGE_DATABASE: url({ query: 'sslmode=verify-ca' }) })
    assert.equal(v.code, 2)
    assert.match(v.stderr, /BRIDGE_DATABASE: sslmode=verify-ca needs sslrootcert=/)
  })
})
