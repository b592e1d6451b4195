/** The functions of src/ and their length in lines, read with the TypeScript compiler's parser. */
import { readFileSync } from 'node:fs'
import ts from 'typescript'
import { rel, sourceFiles } from './imports.js'

export interface FunctionLength {
  file: string
  name: string
  line: number
  lines: number
  /** The reason given in a `// long-function: …` comment right above it, if any. */
  justified?: string
}

function nameOf (node: ts.Node): string {
  const n = (node as { name?: ts.Node }).name
  if (n !== undefined && ts.isIdentifier(n)) return n.text
  const parent = node.parent
  if (parent !== undefined && ts.isVariableDeclaration(parent) && ts.isIdentifier(parent.name)) return parent.name.text
  if (parent !== undefined && ts.isPropertyAssignment(parent) && ts.isIdentifier(parent.name)) return parent.name.text
  return '(anonymous)'
}

export function functionLengths (): FunctionLength[] {
  const out: FunctionLength[] = []
  for (const file of sourceFiles()) {
    const text = readFileSync(file, 'utf8')
    const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true)
    const lines = text.split('\n')
    const visit = (node: ts.Node): void => {
      if (ts.isFunctionDeclaration(node) || ts.isFunctionExpression(node) || ts.isArrowFunction(node) || ts.isMethodDeclaration(node)) {
        const start = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line
        const end = sf.getLineAndCharacterOfPosition(node.getEnd()).line
        // The statement that holds the function (`export function …`, `const x = () => …`) carries the comment.
        let holder: ts.Node = node
        const stops = (n: ts.Node): boolean => ts.isSourceFile(n) || ts.isBlock(n) || ts.isObjectLiteralExpression(n) || ts.isClassDeclaration(n)
        while (holder.parent !== undefined && !stops(holder.parent)) holder = holder.parent
        const holderLine = sf.getLineAndCharacterOfPosition(holder.getStart(sf)).line
        let justified: string | undefined
        for (let l = holderLine - 1; l >= 0 && l >= holderLine - 12; l--) {
          const m = /long-function:\s*(.+)$/.exec(lines[l] ?? '')
          if (m !== null) { justified = m[1]!.trim(); break }
          if (!/^\s*(\/\/|\*|\/\*)/.test(lines[l] ?? '')) break
        }
        out.push({ file: rel(file), name: nameOf(node), line: start + 1, lines: end - start + 1, justified })
      }
      ts.forEachChild(node, visit)
    }
    visit(sf)
  }
  return out.sort((a, b) => b.lines - a.lines)
}
