// Shared setup for the postgrest-js suites: clients for the anon key, the
// service-role key and a signed-in user, a JWT minter, and assertions on the
// whole { status, count, error, data } of a response.
//
// tests/clients/run.sh exports POSTGREST_URL, ANON_KEY, SERVICE_KEY and JWT_SECRET.
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import { PostgrestClient } from '@supabase/postgrest-js'

function required(name) {
  const value = process.env[name]
  if (!value) throw new Error(`${name} is not set: run the suite with tests/clients/run.sh js`)
  return value
}

export const POSTGREST_URL = required('POSTGREST_URL')
export const ANON_KEY = required('ANON_KEY')
export const SERVICE_KEY = required('SERVICE_KEY')
export const JWT_SECRET = required('JWT_SECRET')

export const USER_1 = '00000000-0000-0000-0000-000000000001'
export const USER_2 = '00000000-0000-0000-0000-000000000002'

const b64url = (value) => Buffer.from(JSON.stringify(value)).toString('base64url')

/** An HS256 JWT over `claims`, signed with `secret` (the server's by default). */
export function mintJwt(claims, secret = JWT_SECRET) {
  const unsigned = `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url(claims)}`
  const signature = crypto.createHmac('sha256', secret).update(unsigned).digest('base64url')
  return `${unsigned}.${signature}`
}

/** A signed-in user's token, as Supabase Auth issues it. */
export function userJwt(sub = USER_1, extra = {}) {
  return mintJwt({
    role: 'authenticated',
    sub,
    aud: 'authenticated',
    exp: Math.floor(Date.now() / 1000) + 3600,
    ...extra,
  })
}

/** A client that sends `key` as apikey and as the bearer token. */
export function client(key, headers = {}) {
  const h = { ...headers }
  if (key !== undefined) {
    h.apikey = key
    h.Authorization = `Bearer ${key}`
  }
  return new PostgrestClient(POSTGREST_URL, { headers: h })
}

export const anon = client(ANON_KEY)
export const service = client(SERVICE_KEY)
export const user1 = client(userJwt(USER_1))
export const user2 = client(userJwt(USER_2))

let seq = 0
/** A fresh, unique name for rows a test creates (kv keys, notes titles, tasks). */
export function fresh(prefix = 't') {
  seq += 1
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${seq}-${crypto.randomBytes(3).toString('hex')}`
}

/** The error body of a failed request. */
export function err(code, message, details = null, hint = null) {
  return { code, details, hint, message }
}

/**
 * Asserts status, count, error and data of a postgrest-js response at once, so
 * a failure shows the whole difference.
 */
export function expectResult(res, { status, data = null, count = null, error = null }) {
  assert.deepStrictEqual(
    { status: res.status, count: res.count, error: res.error, data: res.data },
    { status, count, error, data },
  )
}

export { assert }
