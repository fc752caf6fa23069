import { ErrorCodes } from '../../schemas/jsonrpc.js'
import { RpcError } from './rpc.js'

export const PAGE_SIZE = 100

/** One page of `items` after an opaque cursor (the next start index, as a string). */
export function paginate<T> (items: T[], cursor: unknown, key: string): Record<string, unknown> {
  let start = 0
  if (cursor !== undefined) {
    start = typeof cursor === 'string' && /^\d{1,9}$/.test(cursor) ? Number(cursor) : -1
    if (start < 0 || start > items.length) throw new RpcError(ErrorCodes.invalidParams, 'invalid cursor')
  }
  const page: Record<string, unknown> = { [key]: items.slice(start, start + PAGE_SIZE) }
  if (start + PAGE_SIZE < items.length) page.nextCursor = String(start + PAGE_SIZE)
  return page
}
