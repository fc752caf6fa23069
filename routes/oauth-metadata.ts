import type { FastifyPluginAsync } from 'fastify'
import { publicBase } from '../lib/security/origin.js'
import { RESOURCE_METADATA_PATH } from '../plugins/auth.js'
import { ASYMMETRIC_ALGORITHMS } from '../lib/security/jwt-algorithms.js'

/**
 * RFC 9728 protected-resource metadata: tells MCP clients which authorization server issues
 * tokens for this server. Served only when JWT_ISSUER is set. The resource identifier comes from
 * PUBLIC_URL (or the Host the request guard already accepted), never from an arbitrary header;
 * /mcp has its own path-specific document whose `resource` is exactly the MCP endpoint.
 */
const oauthMetadataRoute: FastifyPluginAsync<{ issuer: string, publicUrl?: string }> = async (fastify, opts) => {
  const document = (resource: string) => ({
    resource,
    authorization_servers: [opts.issuer],
    // What tools, resources and prompts ask for, so a client can ask for it up front (and step up later, SEP-2350).
    scopes_supported: [...new Set([
      ...fastify.tools.list().flatMap((tool) => fastify.tools.get(tool.name)?.scopes ?? []),
      ...fastify.resources.scopes(),
      ...fastify.prompts.scopes()
    ])],
    bearer_methods_supported: ['header'],
    // Sender-constrained tokens are accepted (RFC 9449), not required.
    dpop_signing_alg_values_supported: [...ASYMMETRIC_ALGORITHMS],
    dpop_bound_access_tokens_required: false,
    resource_name: 'DataPulseSSE'
  })
  fastify.get(RESOURCE_METADATA_PATH, async (request) => document(`${publicBase(request, opts.publicUrl)}${fastify.prefix}`))
  fastify.get(`${RESOURCE_METADATA_PATH}/mcp`, async (request) => document(`${publicBase(request, opts.publicUrl)}${fastify.prefix}/mcp`))
}

export default oauthMetadataRoute
