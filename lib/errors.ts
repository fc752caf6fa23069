/**
 * An error a client can act on: the HTTP status, a stable machine-readable code and a message.
 * The error handler in app.ts turns it into `{ statusCode, error, code, message }`.
 */
export class AppError extends Error {
  override name = 'AppError'
  readonly statusCode: number
  readonly code: string
  readonly headers: Record<string, string>

  constructor (statusCode: number, code: string, message: string, headers: Record<string, string> = {}) {
    super(message)
    this.statusCode = statusCode
    this.code = code
    this.headers = headers
  }
}

/** A setting that cannot work: start fails with a message that names the setting. */
export class ConfigError extends Error {
  override name = 'ConfigError'
  constructor (message: string) {
    super(message)
    // A configuration mistake is reported as one line: where in our code it was found is noise.
    this.stack = `${this.name}: ${message}`
  }
}
