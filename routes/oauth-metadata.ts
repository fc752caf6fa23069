import type { FastifyPluginAsync } from 'fastify'
import { RESOURCE_METADATA_PATH } from '../plugins/auth.js'

/**
 * RFC 9728 protected-resource metadata: tells MCP clients which authorization server issues
 * tokens for this server. Served only when JWT_ISSUER is set.
 */
const oauthMetadataRoute: FastifyPluginAsync<{ issuer: string }> = async (fastify, opts) => {
  fastify.get(RESOURCE_METADATA_PATH, async (request) => ({
    resource: `${request.protocol}://${request.host}${fastify.prefix}`,
    authorization_servers: [opts.issuer],
    bearer_methods_supported: ['header'],
    resource_name: 'DataPulseSSE'
  }))
}

export default oauthMetadataRoute
