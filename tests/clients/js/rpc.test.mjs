// Functions at /rpc: scalar, SETOF rows, SETOF scalar, void, json; POST, GET
// (get: true) and HEAD (head: true); select, filters, order, range and counts
// on the result.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { anon, err, expectResult, fresh, service, user1, USER_1 } from './helpers.mjs'

test('scalar function by POST', async () => {
  expectResult(await anon.rpc('add_them', { a: 2, b: 3 }), { status: 200, data: 5 })
})

test('scalar function by GET (get: true)', async () => {
  expectResult(await anon.rpc('add_them', { a: 40, b: 2 }, { get: true }), { status: 200, data: 42 })
})

test('scalar function by HEAD (head: true) has no body', async () => {
  expectResult(await anon.rpc('add_them', { a: 2, b: 3 }, { head: true }), { status: 200 })
})

test('numeric result, argument default used when the argument is omitted', async () => {
  expectResult(await anon.rpc('average_price', { genre: 'fantasy' }), { status: 200, data: 8.99 })
  expectResult(await anon.rpc('average_price'), { status: 200, data: 10.06 })
  expectResult(await anon.rpc('average_price', { genre: 'science-fiction' }, { get: true }), {
    status: 200,
    data: 10.21,
  })
})

test('SETOF rows with select and order', async () => {
  const res = await anon.rpc('gadgets_tagged', { tag: 'outdoor' }).select('id,name').order('id')
  expectResult(res, {
    status: 200,
    data: [
      { id: 1, name: 'Rocket Skates' },
      { id: 3, name: 'Portable Hole' },
    ],
  })
})

test('SETOF rows: every column by default', async () => {
  const res = await anon.rpc('gadgets_tagged', { tag: 'office' })
  expectResult(res, {
    status: 200,
    data: [
      {
        id: 4,
        name: 'Stapler',
        price: 7.25,
        tags: ['office'],
        specs: { color: 'red', staples: 50 },
        available: null,
        released: '2018-11-20',
        description: 'A red stapler that must not be taken',
        fts: "'must':5 'red':2 'stapler':3 'taken':8",
        maker_id: 3,
      },
    ],
  })
})

test('SETOF rows with filters on the result (POST and GET)', async () => {
  const post = await anon.rpc('gadgets_tagged', { tag: 'outdoor' }).select('name').gt('price', 50)
  expectResult(post, { status: 200, data: [{ name: 'Rocket Skates' }] })
  const get = await anon
    .rpc('books_by_author', { author: 'Iain M. Banks' }, { get: true })
    .select('title,price')
    .gt('price', 11)
  expectResult(get, { status: 200, data: [{ title: 'Consider Phlebas', price: 11.25 }] })
})

test('SETOF rows with an embed in select', async () => {
  const res = await anon
    .rpc('gadgets_tagged', { tag: 'outdoor' })
    .select('name,makers(name)')
    .order('id')
  expectResult(res, {
    status: 200,
    data: [
      { name: 'Rocket Skates', makers: { name: 'Acme' } },
      { name: 'Portable Hole', makers: { name: 'Globex' } },
    ],
  })
})

test('SETOF rows with count=exact, and with head: true', async () => {
  const counted = await anon.rpc('gadgets_tagged', { tag: 'outdoor' }, { count: 'exact' }).select('id').order('id')
  expectResult(counted, { status: 200, count: 2, data: [{ id: 1 }, { id: 3 }] })
  const head = await anon.rpc('gadgets_tagged', { tag: 'outdoor' }, { head: true, count: 'exact' })
  expectResult(head, { status: 200, count: 2 })
})

test('SETOF rows: single() and maybeSingle()', async () => {
  const one = await anon.rpc('gadgets_tagged', { tag: 'metal' }).select('name').single()
  expectResult(one, { status: 200, data: { name: 'Giant Magnet' } })
  const none = await anon.rpc('gadgets_tagged', { tag: 'no-such-tag' }).select('id').maybeSingle()
  expectResult(none, { status: 200, data: null })
  const noneSingle = await anon.rpc('gadgets_tagged', { tag: 'no-such-tag' }).select('id').single()
  expectResult(noneSingle, {
    status: 406,
    error: err('not_acceptable', 'Cannot coerce the result to a single JSON object', 'The result contains 0 rows'),
  })
})

test('SETOF rows as csv()', async () => {
  const res = await anon.rpc('gadgets_tagged', { tag: 'outdoor' }).select('id,name').order('id').csv()
  expectResult(res, { status: 200, data: 'id,name\n1,"Rocket Skates"\n3,"Portable Hole"' })
})

test('SETOF scalar by POST and GET is a JSON array', async () => {
  const names = ['Rocket Skates', 'Giant Magnet', 'Portable Hole', 'Stapler', 'Widget']
  expectResult(await anon.rpc('gadget_names'), { status: 200, data: names })
  expectResult(await anon.rpc('gadget_names', {}, { get: true }), { status: 200, data: names })
})

test('SETOF scalar with range and count=exact is 206', async () => {
  const res = await anon.rpc('gadget_names', {}, { count: 'exact' }).range(0, 1)
  expectResult(res, { status: 206, count: 5, data: ['Rocket Skates', 'Giant Magnet'] })
})

test('SETOF scalar with count=estimated is the exact count', async () => {
  const res = await anon.rpc('gadget_names', {}, { get: true, count: 'estimated' }).limit(1)
  expectResult(res, { status: 206, count: 5, data: ['Rocket Skates'] })
})

test(
  'count=planned on /rpc gives no total (Content-Range 0-4/*), as in PostgREST',
  async () => {
    // PostgREST (Query.hs): CallReadPlan has no explain query, and countF only counts
    // for exact/estimated, so the total is "*"; postgrest-js turns that into NaN.
    const res = await anon.rpc('gadget_names', {}, { get: true, count: 'planned' })
    expectResult(res, {
      status: 200,
      count: NaN,
      data: ['Rocket Skates', 'Giant Magnet', 'Portable Hole', 'Stapler', 'Widget'],
    })
  },
)

test('void function: 204 by POST and by GET', async () => {
  expectResult(await anon.rpc('noop'), { status: 204 })
  expectResult(await anon.rpc('noop', {}, { get: true }), { status: 204 })
})

test('volatile function by POST writes', async () => {
  const k = fresh('bump')
  expectResult(await anon.rpc('bump', { k }), { status: 200, data: 1 })
  expectResult(await anon.rpc('bump', { k }), { status: 200, data: 2 })
  const back = await anon.from('kv').select('key,hits').eq('key', k)
  expectResult(back, { status: 200, data: [{ key: k, hits: 2 }] })
})

test('volatile function by GET runs read-only and is 405', async () => {
  const k = fresh('bump')
  const res = await anon.rpc('bump', { k }, { get: true })
  expectResult(res, {
    status: 405,
    error: err('method_not_allowed', 'cannot execute INSERT in a read-only transaction'),
  })
  const back = await anon.from('kv').select('key').eq('key', k)
  expectResult(back, { status: 200, data: [] })
})

test('json result sees the role and the JWT claims of the request', async () => {
  expectResult(await anon.rpc('whoami'), { status: 200, data: { role: 'anon', sub: null } })
  expectResult(await user1.rpc('whoami'), { status: 200, data: { role: 'authenticated', sub: USER_1 } })
  expectResult(await service.rpc('whoami', {}, { get: true }), {
    status: 200,
    data: { role: 'service_role', sub: null },
  })
})

test('argument of the wrong type is an error from PostgreSQL', async () => {
  const res = await anon.rpc('add_them', { a: 'x', b: 2 })
  expectResult(res, {
    status: 422,
    error: err('invalid_request', 'invalid input syntax for type integer: "x"'),
  })
})

test('rpc().rollback(): the function runs, its writes are not kept', async () => {
  const key = `rollback-${Date.now()}-${Math.random()}`
  expectResult(await anon.rpc('bump', { k: key }).rollback(), { status: 200, data: 1 })
  expectResult(await anon.from('kv').select('hits').eq('key', key), { status: 200, data: [] })
  expectResult(await anon.rpc('bump', { k: key }), { status: 200, data: 1 })
})

test('rpc().maxAffected(n): more rows than n is refused', async () => {
  const over = await anon.rpc('gadgets_tagged', { tag: 'outdoor' }).select('id').maxAffected(1)
  assert.equal(over.status >= 400 && over.status < 500, true, JSON.stringify(over))
  assert.equal(over.data, null)
  const within = await anon.rpc('gadgets_tagged', { tag: 'outdoor' }).select('id').order('id').maxAffected(2)
  expectResult(within, { status: 200, data: [{ id: 1 }, { id: 3 }] })
})
