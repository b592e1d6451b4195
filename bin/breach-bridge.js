#!/usr/bin/env node
// Runs the compiled CLI when it exists (production: `npm run build`), otherwise the TypeScript
// sources through tsx (a development clone after `npm ci`). `main` builds the process's context (its
// streams, process.env plus ./.env, its signals) and sets the exit code.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const compiled = new URL('../dist/cli.js', import.meta.url)
if (existsSync(fileURLToPath(compiled))) {
  await (await import(compiled.href)).main()
} else {
  const { register } = await import('tsx/esm/api')
  register()
  await (await import(new URL('../src/cli.ts', import.meta.url).href)).main()
}
