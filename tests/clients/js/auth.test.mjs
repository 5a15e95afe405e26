// Roles and Row Level Security: the anon key, user JWTs and the service key on
// todos (every user sees only their own) and reviews (published for all, drafts
// for their author). Only this file writes todos; each test removes its own.
import { test } from 'node:test'
import {
  ANON_KEY,
  anon,
  client,
  err,
  expectResult,
  fresh,
  mintJwt,
  service,
  user1,
  user2,
  userJwt,
  USER_1,
  USER_2,
} from './helpers.mjs'

const SEEDED = { buyMilk: 1, walkDog: 2, writeCode: 3 } // todos ids from fixture.sql

async function cleanup(task) {
  await service.from('todos').delete().eq('task', task)
}

test('anon key: no privilege on todos is 403 permission denied', async () => {
  const res = await anon.from('todos').select('task')
  expectResult(res, { status: 403, error: err('rls_denied', 'permission denied for table todos') })
})

test('user JWT: sees only their own todos', async () => {
  const res = await user1.from('todos').select('id,owner,task,done').lte('id', 3).order('id')
  expectResult(res, {
    status: 200,
    data: [
      { id: SEEDED.buyMilk, owner: USER_1, task: 'buy milk', done: false },
      { id: SEEDED.walkDog, owner: USER_1, task: 'walk dog', done: true },
    ],
  })
  const other = await user2.from('todos').select('task').lte('id', 3)
  expectResult(other, { status: 200, data: [{ task: 'write code' }] })
})

test('user JWT: exact count is of the visible rows only', async () => {
  const res = await user1.from('todos').select('*', { count: 'exact', head: true }).lte('id', 3)
  expectResult(res, { status: 200, count: 2 })
})

test('service key bypasses RLS and sees every todo', async () => {
  const res = await service.from('todos').select('task', { count: 'exact' }).lte('id', 3).order('id')
  expectResult(res, {
    status: 200,
    count: 3,
    data: [{ task: 'buy milk' }, { task: 'walk dog' }, { task: 'write code' }],
  })
})

test('user inserts, updates and deletes their own todo', async () => {
  const task = fresh('task')
  try {
    const ins = await user1.from('todos').insert({ owner: USER_1, task }).select('owner,task,done').single()
    expectResult(ins, { status: 201, data: { owner: USER_1, task, done: false } })
    const upd = await user1.from('todos').update({ done: true }).eq('task', task).select('task,done')
    expectResult(upd, { status: 200, data: [{ task, done: true }] })
    const hidden = await user2.from('todos').select('task').eq('task', task)
    expectResult(hidden, { status: 200, data: [] })
    const del = await user1.from('todos').delete().eq('task', task).select('task')
    expectResult(del, { status: 200, data: [{ task }] })
  } finally {
    await cleanup(task)
  }
})

test('user inserting a todo for another owner violates the RLS policy (42501, 403)', async () => {
  const task = fresh('task')
  try {
    const res = await user1.from('todos').insert({ owner: USER_2, task })
    expectResult(res, {
      status: 403,
      error: err('rls_denied', 'new row violates row-level security policy for table "todos"'),
    })
    const withSelect = await user1.from('todos').insert({ owner: USER_2, task }).select()
    expectResult(withSelect, {
      status: 403,
      error: err('rls_denied', 'new row violates row-level security policy for table "todos"'),
    })
    const back = await service.from('todos').select('task').eq('task', task)
    expectResult(back, { status: 200, data: [] })
  } finally {
    await cleanup(task)
  }
})

test("user update/delete of another user's todo affects 0 rows", async () => {
  const upd = await user1.from('todos').update({ done: true }).eq('id', SEEDED.writeCode).select()
  expectResult(upd, { status: 200, data: [] })
  const updMaybe = await user1.from('todos').update({ done: true }).eq('id', SEEDED.writeCode).select().maybeSingle()
  expectResult(updMaybe, { status: 200, data: null })
  const del = await user1.from('todos').delete().eq('id', SEEDED.writeCode).select()
  expectResult(del, { status: 200, data: [] })
  const still = await service.from('todos').select('task,done').eq('id', SEEDED.writeCode)
  expectResult(still, { status: 200, data: [{ task: 'write code', done: false }] })
})

test('anon key cannot write todos', async () => {
  const res = await anon.from('todos').insert({ owner: USER_1, task: fresh('task') })
  expectResult(res, { status: 403, error: err('rls_denied', 'permission denied for table todos') })
})

test('service key writes a todo for any owner', async () => {
  const task = fresh('task')
  try {
    const ins = await service.from('todos').insert({ owner: USER_2, task }).select('owner,task').single()
    expectResult(ins, { status: 201, data: { owner: USER_2, task } })
    const seen = await user2.from('todos').select('task').eq('task', task)
    expectResult(seen, { status: 200, data: [{ task }] })
  } finally {
    await cleanup(task)
  }
})

test('reviews: anon sees published ones, an author also their draft', async () => {
  const published = [
    { id: 1, body: 'A classic.' },
    { id: 2, body: 'Dense but rewarding.' },
    { id: 3, body: 'Unsettling in the best way.' },
  ]
  expectResult(await anon.from('reviews').select('id,body').lte('id', 4).order('id'), {
    status: 200,
    data: published,
  })
  expectResult(await user1.from('reviews').select('id,body').lte('id', 4).order('id'), {
    status: 200,
    data: published,
  })
  expectResult(await user2.from('reviews').select('id,body').lte('id', 4).order('id'), {
    status: 200,
    data: [...published, { id: 4, body: 'Draft: still thinking about it.' }],
  })
})

test('user token with the anon key as apikey: the bearer token decides the role', async () => {
  const c = client(undefined, { apikey: ANON_KEY, Authorization: `Bearer ${userJwt(USER_1)}` })
  expectResult(await c.rpc('whoami'), { status: 200, data: { role: 'authenticated', sub: USER_1 } })
})

test('no key at all: anonymous access is disabled (no anon role configured)', async () => {
  const res = await client(undefined).from('gadgets').select('id').eq('id', 1)
  expectResult(res, { status: 401, error: err('unauthorized', 'Anonymous access is disabled') })
})

test('expired JWT is 401 "JWT expired"', async () => {
  const token = userJwt(USER_1, { exp: Math.floor(Date.now() / 1000) - 3600 })
  const res = await client(token).from('gadgets').select('id').eq('id', 1)
  expectResult(res, { status: 401, error: err('unauthorized', 'JWT expired') })
})

test('JWT not valid yet (nbf in the future) is 401', async () => {
  const token = userJwt(USER_1, { nbf: Math.floor(Date.now() / 1000) + 3600 })
  const res = await client(token).from('gadgets').select('id').eq('id', 1)
  expectResult(res, { status: 401, error: err('unauthorized', 'JWT not yet valid') })
})

test('JWT signed with another secret is 401', async () => {
  const token = mintJwt(
    { role: 'authenticated', sub: USER_1, exp: Math.floor(Date.now() / 1000) + 3600 },
    'not-the-server-secret-but-at-least-32-characters',
  )
  const res = await client(token).from('gadgets').select('id').eq('id', 1)
  expectResult(res, {
    status: 401,
    error: err('unauthorized', 'No suitable key or wrong key type', 'None of the keys was able to decode the JWT'),
  })
})

test('JWT with a role that does not exist is 401', async () => {
  const token = mintJwt({ role: 'nobody', exp: Math.floor(Date.now() / 1000) + 3600 })
  const res = await client(token).from('gadgets').select('id').eq('id', 1)
  expectResult(res, { status: 401, error: err('unauthorized', 'role "nobody" does not exist') })
})
