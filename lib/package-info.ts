import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/** The package folder and its name/version, found from both the sources and dist/. */
function find (): { root: string, name: string, version: string } {
  for (const rel of ['../', '../../']) {
    const root = new URL(rel, import.meta.url)
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { name?: string, version?: string }
      if (pkg.name === 'datapulse-sse') return { root: fileURLToPath(root), name: pkg.name, version: pkg.version ?? '0.0.0' }
    } catch { /* try the next level up */ }
  }
  return { root: fileURLToPath(new URL('../', import.meta.url)), name: 'datapulse-sse', version: '0.0.0' }
}

export const packageInfo = find()
