import neostandard from 'neostandard'

export default [
  ...neostandard({
    ts: true,
    ignores: ['dist/**', 'node_modules/**', 'data/**', 'certs/generated/**', 'tmp/**', 'bench/results/**']
  }),
  {
    // Long lines hide what a reviewer must read. Strings, template literals (messages, SQL) and regular
    // expressions may run on: breaking them would only make them harder to search for.
    rules: {
      '@stylistic/max-len': ['error', { code: 160, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreUrls: true, ignoreRegExpLiterals: true }]
    }
  }
]
