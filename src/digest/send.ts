import { request, type Dispatcher } from 'undici'
import { Webhook } from 'standardwebhooks'
import { plainText } from '../alerts/text.js'

/** Standard Webhooks signer of BRIDGE_NOTIFY_SECRET (`whsec_<base64>`, or any text: its bytes are the key); none without a secret. */
export function signerFor (secret: string | undefined): Webhook | undefined {
  if (secret === undefined) return undefined
  return secret.startsWith('whsec_') ? new Webhook(secret) : new Webhook(Buffer.from(secret, 'utf8'), { format: 'raw' })
}

/**
 * BRIDGE_NOTIFY_URL is a bearer secret (a Slack webhook's path is its only credential): text that may quote it
 * — an error, the receiver's answer — names the variable instead, before it is logged or stored.
 */
export function withoutUrl (url: string, text: string): string {
  let path = ''
  try { path = new URL(url).pathname + new URL(url).search } catch {}
  return [url, ...(path.length > 1 ? [path] : [])].reduce((t, secret) => t.split(secret).join('BRIDGE_NOTIFY_URL'), text)
}

/** How one POST to the receiver ended: its status and (short, plain) answer, or why there was none. */
export interface Delivered {
  /** A 2xx. */
  ok: boolean
  status?: number
  /** The receiver's answer, plain text, at most 200 characters. */
  answer?: string
  /** Set when not ok: what a log line or an operator reads. */
  problem?: string
  /** The connection's error code when there was no answer (ECONNREFUSED, UND_ERR_CONNECT_TIMEOUT …). */
  errorCode?: string
}

/**
 * POSTs one message to the receiver as JSON with the Standard Webhooks headers (`webhook-id` = `id`, so a receiver
 * can drop repeats; `webhook-signature` when there is a signer). The one way the digest and `notify test` send.
 */
export interface PostOptions { signer?: Webhook, dispatcher?: Dispatcher, timeoutMs?: number }

export async function postMessage (url: string, id: string, payload: unknown, opts: PostOptions): Promise<Delivered> {
  const body = JSON.stringify(payload)
  const at = new Date()
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'enzoic-fusionauth-bridge',
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000))
  }
  if (opts.signer !== undefined) headers['webhook-signature'] = opts.signer.sign(id, at, body)
  try {
    const res = await request(url, { method: 'POST', headers, body, dispatcher: opts.dispatcher, signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000) })
    const text = await res.body.text()
    const answer = text === '' ? undefined : plainText(withoutUrl(url, text), 200) ?? undefined
    if (res.statusCode >= 200 && res.statusCode < 300) return { ok: true, status: res.statusCode, answer }
    return { ok: false, status: res.statusCode, answer, problem: `the receiver answered ${res.statusCode}${answer === undefined ? '' : `: ${answer}`}` }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).name
    return { ok: false, errorCode: code, problem: `the receiver did not answer: ${withoutUrl(url, code ?? (err as Error).message)}` }
  }
}
