import type { FastifyRequest } from 'fastify'

/** A URL fit for a log line: stream tickets are credentials, so their value never reaches it. */
export function redactUrl (url: string): string {
  return url.replace(/([?&]ticket=)[^&]*/gi, '$1[redacted]')
}

/**
 * Logger settings for the server: request lines keep method, URL (redacted), host and address,
 * never headers, so Authorization and cookies are not logged; redact guards any log call that
 * passes headers explicitly.
 */
export const loggerOptions = {
  redact: {
    paths: ['req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'headers.cookie'],
    censor: '[redacted]'
  },
  serializers: {
    req (request: FastifyRequest) {
      return {
        method: request.method,
        url: redactUrl(request.url),
        host: request.host,
        remoteAddress: request.ip,
        remotePort: request.socket?.remotePort
      }
    }
  }
}
