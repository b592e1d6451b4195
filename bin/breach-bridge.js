#!/usr/bin/env node
// Runs the compiled CLI when it exists (production: `npm run build`), otherwise the TypeScript
// sources through tsx (a development clone after `npm ci`).
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const compiled = new URL('../dist/cli.js', import.meta.url)
if (existsSync(fileURLToPath(compiled))) {
  await (await import(compiled.href)).run()
} else {
  const { register } = await import('tsx/esm/api')
  register()
  await (await import(new URL('../src/cli.ts', import.meta.url).href)).run()
}
