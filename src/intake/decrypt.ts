import { createCipheriv, createDecipheriv, randomBytes, type CipherGCMTypes } from 'node:crypto'
import { BridgeError } from '../errors.js'

/**
 * Enzoic's optional payload encryption: AES with a pre-shared key, body = Base64 of the encrypted JSON.
 * Enzoic does not document the mode, so each layout we accept is one entry of LAYOUTS (docs/design.md §6);
 * a third layout is one more entry.
 */
export type CipherLayout = 'cbc' | 'gcm'

interface Layout {
  encrypt (key: Buffer, plaintext: Buffer): Buffer
  decrypt (key: Buffer, data: Buffer): Buffer
}

const bits = (key: Buffer): number => key.length * 8
const gcm = (key: Buffer): CipherGCMTypes => `aes-${bits(key)}-gcm` as CipherGCMTypes

const LAYOUTS: Record<CipherLayout, Layout> = {
  // IV[16] ‖ AES-CBC ciphertext with PKCS#7 padding (the usual .NET layout).
  cbc: {
    encrypt (key, plaintext) {
      const iv = randomBytes(16)
      const c = createCipheriv(`aes-${bits(key)}-cbc`, key, iv)
      return Buffer.concat([iv, c.update(plaintext), c.final()])
    },
    decrypt (key, data) {
      if (data.length < 32 || data.length % 16 !== 0) throw new Error('bad length')
      const d = createDecipheriv(`aes-${bits(key)}-cbc`, key, data.subarray(0, 16))
      return Buffer.concat([d.update(data.subarray(16)), d.final()])
    }
  },
  // IV[12] ‖ ciphertext ‖ tag[16].
  gcm: {
    encrypt (key, plaintext) {
      const iv = randomBytes(12)
      const c = createCipheriv(gcm(key), key, iv, { authTagLength: 16 })
      const body = Buffer.concat([c.update(plaintext), c.final()])
      return Buffer.concat([iv, body, c.getAuthTag()])
    },
    decrypt (key, data) {
      if (data.length < 12 + 16 + 1) throw new Error('bad length')
      const d = createDecipheriv(gcm(key), key, data.subarray(0, 12), { authTagLength: 16 })
      d.setAuthTag(data.subarray(data.length - 16))
      return Buffer.concat([d.update(data.subarray(12, data.length - 16)), d.final()])
    }
  }
}

/** Thrown for every decryption failure; the caller answers one uniform 400 `cannot decrypt`. */
export class DecryptError extends BridgeError {
  readonly code = 'BRIDGE_CANNOT_DECRYPT'
  constructor () {
    super('cannot decrypt')
  }
}

/**
 * `base64:…`, `hex:…` or raw text → a 16, 24 or 32-byte key. Returns an error message (never the key)
 * when the text is not such a key.
 */
export function parsePayloadKey (text: string): Buffer | string {
  let key: Buffer
  if (text.startsWith('base64:')) {
    const b64 = text.slice(7).trim()
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return 'base64: key is not valid Base64'
    key = Buffer.from(b64, 'base64')
  } else if (text.startsWith('hex:')) {
    const hex = text.slice(4).trim()
    if (!/^([0-9a-fA-F]{2})+$/.test(hex)) return 'hex: key is not valid hex'
    key = Buffer.from(hex, 'hex')
  } else {
    key = Buffer.from(text, 'utf8')
  }
  if (![16, 24, 32].includes(key.length)) return `key must be 16, 24 or 32 bytes (got ${key.length})`
  return key
}

/**
 * Base64 text → bytes, or undefined when it is not Base64. Whitespace anywhere is skipped (MIME encoders wrap
 * lines: .NET's `Base64FormattingOptions.InsertLineBreaks`, Java's `getMimeEncoder`), both alphabets are
 * taken (`+/` and the URL-safe `-_`), padding is optional but only at the end. One pass, no regular
 * expression: the work is linear in the body whatever it holds.
 */
export function base64Bytes (text: string): Buffer | undefined {
  const kept = Buffer.allocUnsafe(text.length)
  let n = 0
  let padding = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x0b || c === 0x0c) continue
    if (c === 0x3d /* = */) {
      if (++padding > 2) return undefined
      continue
    }
    const base64 = (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) ||
      c === 0x2b || c === 0x2f || c === 0x2d || c === 0x5f
    if (!base64 || padding > 0) return undefined
    kept[n++] = c
  }
  if (n === 0 || n % 4 === 1) return undefined
  return Buffer.from(kept.toString('latin1', 0, n), 'base64')
}

/**
 * Base64 body (one pair of surrounding quotes and any whitespace allowed) → plaintext bytes. Throws
 * DecryptError, whatever went wrong.
 */
export function decryptPayload (body: Buffer | string, key: Buffer, layout: CipherLayout): Buffer {
  try {
    let text = (typeof body === 'string' ? body : body.toString('latin1')).trim()
    if (text.length >= 2 && text.startsWith('"') && text.endsWith('"')) text = text.slice(1, -1)
    const data = base64Bytes(text)
    if (data === undefined) throw new Error('not base64')
    return LAYOUTS[layout].decrypt(key, data)
  } catch {
    throw new DecryptError()
  }
}

/** Plaintext → Base64 body in the given layout (for `breach-bridge payload encrypt` and tests). */
export function encryptPayload (plaintext: Buffer, key: Buffer, layout: CipherLayout): string {
  return LAYOUTS[layout].encrypt(key, plaintext).toString('base64')
}
