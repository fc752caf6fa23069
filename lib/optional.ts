import { ConfigError } from './errors.js'

/**
 * Loads a package that only some deployments need (CORS, rate limiting, Redis): it is an optional
 * peer, so an embed that does not use the feature does not install it. A setting that needs one
 * that is missing fails start naming both.
 */
export async function loadOptional<T> (name: string, neededBy: string): Promise<T> {
  try {
    return await import(name) as T
  } catch (err) {
    if ((err as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND') throw err
    throw new ConfigError(`${neededBy} needs the ${name} package, which is not installed: npm install ${name}`)
  }
}
