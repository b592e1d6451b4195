import { readFileSync } from 'node:fs'
import { Command, Option } from 'commander'
import { encryptPayload, parsePayloadKey, type CipherLayout } from '../intake/decrypt.js'
import { action } from './command.js'
import type { CliContext, InputStream } from './context.js'
import { CliError } from './exit.js'
import { withHelp } from './help.js'
import { outputTo } from './output.js'

async function readAll (input: InputStream): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of input) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)
  return Buffer.concat(chunks)
}

/** The key's text, from where it may come: a file, the first line of stdin (`--key-file -`), or the environment. */
async function keySource (ctx: CliContext, keyFile: string | undefined, input: () => Promise<Buffer>): Promise<{ key: string, rest?: Buffer }> {
  const firstLine = (text: string): string => text.replace(/\r?\n[\s\S]*$/, '')
  if (keyFile === '-') {
    const all = await input()
    const nl = all.indexOf(0x0a)
    return { key: firstLine(all.toString('utf8')), rest: nl < 0 ? Buffer.alloc(0) : all.subarray(nl + 1) }
  }
  const file = keyFile ?? (ctx.env.ENZOIC_PAYLOAD_KEY === undefined || ctx.env.ENZOIC_PAYLOAD_KEY === '' ? ctx.env.ENZOIC_PAYLOAD_KEY_FILE : undefined)
  const from = keyFile !== undefined ? '--key-file' : 'ENZOIC_PAYLOAD_KEY_FILE'
  if (file !== undefined && file !== '') {
    try {
      return { key: firstLine(readFileSync(file, 'utf8')) }
    } catch (err) {
      throw new CliError(`${from}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
    }
  }
  const fromEnv = ctx.env.ENZOIC_PAYLOAD_KEY
  if (fromEnv === undefined || fromEnv === '') throw new CliError('no key: pass --key-file FILE, or --key-file - (the first line of stdin), or set ENZOIC_PAYLOAD_KEY(_FILE)')
  return { key: fromEnv }
}

const ARGV_KEY = '--key: a key on the command line is visible to every user of this machine (ps, /proc) and kept in shell history; ' +
  'put it in a file (--key-file FILE, mode 0600), pipe it (--key-file -: the first line of stdin, the JSON after it) or set ENZOIC_PAYLOAD_KEY_FILE'

export function payloadCommand (ctx: CliContext): Command {
  const { outRaw } = outputTo(ctx)
  const payload = new Command('payload').description('Enzoic payload encryption helpers')
  withHelp(payload, { examples: ['breach-bridge payload encrypt --key-file key.txt < alert.json'], env: ['ENZOIC_PAYLOAD_KEY(_FILE), ENZOIC_PAYLOAD_CIPHER'] })
  withHelp(payload.command('encrypt')
    .description('encrypt JSON read from stdin into an Enzoic-style Base64 body (checks a key, makes test bodies)')
    .option('--key-file <file>', 'the AES key (base64:…, hex:… or raw text of 16/24/32 bytes) from a file; - = the first line of stdin (default: ENZOIC_PAYLOAD_KEY(_FILE))')
    .addOption(new Option('--key <key>').hideHelp())
    .addOption(new Option('--cipher <layout>', 'layout (default: ENZOIC_PAYLOAD_CIPHER or cbc)').choices(['cbc', 'gcm']))
    .action(action(async (opts: { keyFile?: string, key?: string, cipher?: CipherLayout }) => {
      if (opts.key !== undefined) throw new CliError(ARGV_KEY)
      const cipher = opts.cipher ?? (ctx.env.ENZOIC_PAYLOAD_CIPHER as CipherLayout | undefined) ?? 'cbc'
      if (cipher !== 'cbc' && cipher !== 'gcm') throw new CliError('ENZOIC_PAYLOAD_CIPHER must be cbc or gcm')
      const source = await keySource(ctx, opts.keyFile, async () => await readAll(ctx.stdin))
      const key = parsePayloadKey(source.key)
      if (typeof key === 'string') throw new CliError(`${opts.keyFile === undefined ? 'the key' : '--key-file'}: ${key}`)
      const input = source.rest ?? await readAll(ctx.stdin)
      try {
        JSON.parse(input.toString('utf8'))
      } catch {
        throw new CliError('stdin is not JSON: pipe the alert JSON in, e.g. `breach-bridge payload encrypt --key-file key.txt < alert.json`')
      }
      outRaw(encryptPayload(input, key, cipher) + '\n')
    })), {
    examples: [
      'openssl rand -hex 32 | sed "s/^/hex:/" > key.txt && breach-bridge payload encrypt --key-file key.txt --cipher gcm < alert.json',
      '{ cat key.txt; cat alert.json; } | breach-bridge payload encrypt --key-file -'
    ],
    env: ['ENZOIC_PAYLOAD_KEY, ENZOIC_PAYLOAD_KEY_FILE: the key when --key-file is not given', 'ENZOIC_PAYLOAD_CIPHER: the layout when --cipher is not given']
  })
  return payload
}
