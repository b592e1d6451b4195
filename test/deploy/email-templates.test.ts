// The user's email (docs/design.md §11): every shipped template (deploy/fusionauth/*.ftl) rendered by the real
// FreeMarker as FusionAuth renders it, with hostile requestData and a hostile user.firstName; and what the bridge
// itself puts in requestData, rendered the same way: no live markup, nothing a mail client would link.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { startFusionAuthFake } from '../fakes/fusionauth.js'
import { postAlert, startTestBridge, waitFor } from '../helper.js'
import { missingFreemarker, renderFreemarker, type Model } from '../fixtures/freemarker.js'

const DIR = new URL('../../deploy/fusionauth/', import.meta.url)
const TEMPLATES = readdirSync(DIR).filter(f => f.endsWith('.ftl')).sort()
const source = (name: string): string => readFileSync(new URL(name, DIR), 'utf8')
const isHtml = (name: string): boolean => name.endsWith('.html.ftl')

const EVIL_TITLE = '<a href="https://evil.example/reset">Reset your password here</a>'
const EVIL_NAME = '<img src=x onerror=alert(1)><b>Eve</b>'
/** The markup the HTML template itself writes; anything else with a `<` is someone else's. */
const OWN_TAGS = /<\/?(p|strong)>/g

/** The HTML has no tag but the template's own, and no escape escaped twice. */
function assertNoLiveMarkup (what: string, html: string): void {
  const rest = html.replace(OWN_TAGS, '')
  assert.ok(!rest.includes('<'), `${what}: live markup: ${rest.slice(Math.max(0, rest.indexOf('<') - 60), rest.indexOf('<') + 60)}`)
  assert.ok(!html.includes('&amp;lt;'), `${what}: escaped twice`)
}

/** Nothing a mail client makes a link of: a scheme, www., or a name.tld (the user's own address aside). */
function assertNoLink (what: string, text: string, ownEmail: string): void {
  const m = /[a-z][\w+.-]*:\/\/|www\.|[\w-]+\.[a-z]{2,}/i.exec(text.split(ownEmail).join(''))
  assert.equal(m, null, `${what}: "${m?.[0]}" would become a link: ${text}`)
}

test('every shipped email template, rendered by FreeMarker as FusionAuth does, shows hostile requestData and user.firstName as text', async t => {
  if (missingFreemarker(t)) return
  assert.deepEqual(TEMPLATES, ['breach-notice.html.ftl', 'breach-notice.txt.ftl'])
  const models: Array<[string, Model]> = [
    ['hostile', {
      user: { firstName: EVIL_NAME, email: 'victim@acme-corp.io' },
      requestData: {
        exposureTitle: EVIL_TITLE,
        breachDate: '<script>alert(1)</script>',
        exposedData: ['<b>Passwords</b>', 'Emails & more'],
        alertId: '"><svg onload=alert(1)>',
        graceDeadline: '<i>tomorrow</i>',
        graceAction: 'deactivate'
      }
    }],
    ['minimal', { user: { email: 'victim@acme-corp.io' }, requestData: { alertId: 'a1', exposedData: [] } }],
    ['password change', { user: { email: 'victim@acme-corp.io' }, requestData: { alertId: 'a2', exposedData: [], graceDeadline: 'Friday', graceAction: 'require-password-change' } }]
  ]
  const jobs = TEMPLATES.flatMap(name => models.map(([label, model]) => ({ name, label, source: source(name), model })))
  const rendered = await renderFreemarker(jobs)
  jobs.forEach((job, i) => {
    for (const [version, out] of Object.entries(rendered[i]!)) {
      const what = `${job.name} (${job.label}, incompatible_improvements ${version})`
      if (isHtml(job.name)) {
        assertNoLiveMarkup(what, out)
        if (job.label === 'hostile') {
          assert.ok(out.includes('&lt;a href=&quot;https://evil.example/reset&quot;&gt;Reset your password here&lt;/a&gt;'), `${what}: the title shown as text`)
          assert.ok(out.includes('Hello &lt;img src=x onerror=alert(1)&gt;&lt;b&gt;Eve&lt;/b&gt;,'), `${what}: the first name shown as text`)
        }
      } else {
        // text/plain shows markup as its characters: nothing to escape, and HTML escapes would show as &lt; &amp;.
        assert.ok(!/&(lt|gt|amp|quot);/.test(out), `${what}: HTML-escaped in a text part`)
        if (job.label === 'hostile') assert.ok(out.includes(`data breach: ${EVIL_TITLE} (<script>alert(1)</script>).`), what)
      }
      if (job.label === 'minimal') {
        assert.match(out, /Hello there,/, what)
        assert.match(out, /an unnamed breach/, what)
        assert.ok(!out.includes('Unless your password'), `${what}: no grace sentence without a deadline`)
      }
      if (job.label === 'hostile') assert.match(out, /your account will be deactivated/, what)
      if (job.label === 'password change') {
        assert.match(out, /Unless your password is changed by Friday,\s+you will have to choose a new password the next time you sign in\./, what)
        assert.ok(!out.includes('deactivated'), `${what}: not always "deactivated"`)
      }
    }
  })
})

test('what the bridge sends for the email, rendered by FreeMarker: no markup, no link, dates in human terms', async t => {
  if (missingFreemarker(t)) return
  const fa = await startFusionAuthFake()
  t.after(() => fa.close())
  const template = fa.addEmailTemplate('Breach notice')
  fa.addUser({ tenantId: fa.tenants[0]!.id, email: 'victim@acme-corp.io', firstName: EVIL_NAME, timezone: 'Europe/Berlin' })
  const bridge = await startTestBridge(t, {
    FUSIONAUTH_URL: fa.url,
    FUSIONAUTH_API_KEY: fa.apiKey,
    BRIDGE_ACTIONS: `notify-user:${template}`,
    BRIDGE_GRACE_PERIOD: '72h',
    BRIDGE_GRACE_ACTIONS: 'require-password-change'
  })
  const r = await postAlert(bridge.url, {
    username: 'victim@acme-corp.io',
    exposureID: 'exp-hostile',
    exposureDetails: {
      title: `${EVIL_TITLE} evil.example/reset www.evil.com HTTP://EVIL.COM evil\u3002com/x evil.co\u200bm`,
      date: '2019-12-31T00:00:00Z',
      exposedData: ['Passwords <script>alert(1)</script>', 'see evil.example/x']
    }
  })
  assert.equal(r.status, 200)
  await waitFor(() => fa.sentEmails().length === 1, 'the email')
  const requestData = fa.sentEmails()[0]!.requestData as Record<string, string | string[]>
  assert.equal(requestData.breachDate, '2019', 'a year-only date (31 December) as the year')
  const model: Model = { user: { firstName: EVIL_NAME, email: 'victim@acme-corp.io' }, requestData }
  const rendered = await renderFreemarker(TEMPLATES.map(name => ({ source: source(name), model })))
  TEMPLATES.forEach((name, i) => {
    for (const [version, out] of Object.entries(rendered[i]!)) {
      const what = `${name} (incompatible_improvements ${version})`
      if (isHtml(name)) assertNoLiveMarkup(what, out)
      // The first name is the user's own (escaped above); the rest is the bridge's: no link in it.
      assertNoLink(what, out.split(EVIL_NAME).join('').split('&lt;img src=x onerror=alert(1)&gt;&lt;b&gt;Eve&lt;/b&gt;').join(''), 'victim@acme-corp.io')
      assert.match(out, /evil\[\.\]example\/reset/, `${what}: the title defanged, still readable`)
      assert.match(out, /\(2019\)/, what)
      assert.match(out, /Unless your password is changed by \w+day, \d+ \w+ \d{4} at \d\d:\d\d CES?T,\s+you will have to choose a new password/, what)
    }
  })
})
