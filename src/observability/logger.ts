import { pino, type Logger, type LoggerOptions } from 'pino'

/**
 * Paths pino blanks in every log line. Password fields are dropped at parse time and never reach a log
 * call; these paths are the second line of defence should any object carrying them be logged. They are
 * explicit on purpose: wildcard paths (`*.password`) made every log line ~3× slower (44 µs vs 12 µs).
 */
const PASSWORD_FIELDS = ['plaintextPassword', 'passwordHash', 'passwordSalt', 'password']
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'authorization',
  'secret',
  'apiKey',
  'apiSecret',
  'payloadKey',
  ...PASSWORD_FIELDS,
  ...['alert', 'body', 'payload', 'json'].flatMap(parent => PASSWORD_FIELDS.map(f => `${parent}.${f}`))
]

export function loggerOptions (level: string): LoggerOptions {
  const options: LoggerOptions = {
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' }
  }
  // Pretty only for a person at a terminal; JSON for everything else (CI, systemd, log shippers).
  if (process.stdout.isTTY === true && process.env.CI === undefined) {
    options.transport = { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } }
  }
  return options
}

export function createLogger (level: string, destination?: NodeJS.WritableStream): Logger {
  return destination === undefined ? pino(loggerOptions(level)) : pino({ ...loggerOptions(level), transport: undefined }, destination)
}
