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

export function payloadCommand (ctx: CliContext): Command {
  const { outRaw } = outputTo(ctx)
  const payload = new Command('payload').description('Enzoic payload encryption helpers')
  withHelp(payload, { examples: ['breach-bridge payload encrypt --key hex:… < alert.json'], env: ['ENZOIC_PAYLOAD_KEY, ENZOIC_PAYLOAD_CIPHER'] })
  withHelp(payload.command('encrypt')
    .description('encrypt JSON read from stdin into an Enzoic-style Base64 body (checks a key, makes test bodies)')
    .option('--key <key>', 'AES key: base64:…, hex:… or raw text of 16/24/32 bytes (default: ENZOIC_PAYLOAD_KEY)')
    .addOption(new Option('--cipher <layout>', 'layout (default: ENZOIC_PAYLOAD_CIPHER or cbc)').choices(['cbc', 'gcm']))
    .action(action(async (opts: { key?: string, cipher?: CipherLayout }) => {
      const keyText = opts.key ?? ctx.env.ENZOIC_PAYLOAD_KEY
      if (keyText === undefined || keyText === '') throw new CliError('no key: pass --key or set ENZOIC_PAYLOAD_KEY')
      const key = parsePayloadKey(keyText)
      if (typeof key === 'string') throw new CliError(`--key: ${key}`)
      const cipher = opts.cipher ?? (ctx.env.ENZOIC_PAYLOAD_CIPHER as CipherLayout | undefined) ?? 'cbc'
      if (cipher !== 'cbc' && cipher !== 'gcm') throw new CliError('ENZOIC_PAYLOAD_CIPHER must be cbc or gcm')
      const input = await readAll(ctx.stdin)
      try {
        JSON.parse(input.toString('utf8'))
      } catch {
        throw new CliError('stdin is not JSON: pipe the alert JSON in, e.g. `breach-bridge payload encrypt < alert.json`')
      }
      outRaw(encryptPayload(input, key, cipher) + '\n')
    })), {
    examples: ['breach-bridge payload encrypt --key "hex:$(openssl rand -hex 32)" --cipher gcm < alert.json'],
    env: ['ENZOIC_PAYLOAD_KEY: the key when --key is not given', 'ENZOIC_PAYLOAD_CIPHER: the layout when --cipher is not given']
  })
  return payload
}
