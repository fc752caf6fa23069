import { readFileSync } from 'node:fs'

/** name and version from package.json, found from both the sources and dist/. */
function read (): { name: string, version: string } {
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string, version?: string }
      if (pkg.name === 'datapulse-sse') return { name: pkg.name, version: pkg.version ?? '0.0.0' }
    } catch { /* try the next level up */ }
  }
  return { name: 'datapulse-sse', version: '0.0.0' }
}

export const packageInfo = read()
