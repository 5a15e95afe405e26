// Writes on kv and notes: insert, upsert, update, delete. Every test uses keys
// and titles of its own and reads back only the rows it created.
import { test } from 'node:test'
import { anon, err, expectResult, fresh } from './helpers.mjs'

test('insert one row: 201 and no body by default', async () => {
  const key = fresh('kv')
  const res = await anon.from('kv').insert({ key, value: 'one' })
  expectResult(res, { status: 201 })
  const back = await anon.from('kv').select('*').eq('key', key)
  expectResult(back, { status: 200, data: [{ key, value: 'one', hits: 0 }] })
})

test('insert with select() returns the row, column defaults filled in', async () => {
  const key = fresh('kv')
  const res = await anon.from('kv').insert({ key, value: 'v' }).select()
  expectResult(res, { status: 201, data: [{ key, value: 'v', hits: 0 }] })
})

test('insert with select(columns).single() returns one object', async () => {
  const key = fresh('kv')
  const res = await anon.from('kv').insert({ key, hits: 3 }).select('key,hits').single()
  expectResult(res, { status: 201, data: { key, hits: 3 } })
})

test('bulk insert: missing keys become null (defaultToNull: true)', async () => {
  const [a, b] = [fresh('note'), fresh('note')]
  const res = await anon
    .from('notes')
    .insert([{ title: a, body: 'has a body' }, { title: b }])
    .select('title,body')
  expectResult(res, {
    status: 201,
    data: [
      { title: a, body: 'has a body' },
      { title: b, body: null },
    ],
  })
})

test('bulk insert with defaultToNull: false uses the column defaults', async () => {
  const [a, b] = [fresh('note'), fresh('note')]
  const res = await anon
    .from('notes')
    .insert([{ title: a, body: 'has a body' }, { title: b }], { defaultToNull: false })
    .select('title,body')
  expectResult(res, {
    status: 201,
    data: [
      { title: a, body: 'has a body' },
      { title: b, body: 'empty' },
    ],
  })
})

test('insert with count=exact reports the inserted rows', async () => {
  const [a, b] = [fresh('kv'), fresh('kv')]
  const minimal = await anon.from('kv').insert([{ key: a }, { key: b }], { count: 'exact' })
  expectResult(minimal, { status: 201, count: 2 })
  const c = fresh('kv')
  const withRows = await anon.from('kv').insert([{ key: c }], { count: 'exact' }).select('key')
  expectResult(withRows, { status: 201, count: 1, data: [{ key: c }] })
})

test('insert of a duplicate key is 409 with PostgreSQL message and details', async () => {
  const key = fresh('kv')
  expectResult(await anon.from('kv').insert({ key }), { status: 201 })
  const res = await anon.from('kv').insert({ key, value: 'again' })
  expectResult(res, {
    status: 409,
    error: err('conflict', 'duplicate key value violates unique constraint "kv_pkey"', `Key (key)=(${key}) already exists.`),
  })
})

test('insert violating NOT NULL (a missing key with defaultToNull) fails and writes nothing', async () => {
  const [a, b] = [fresh('kv'), fresh('kv')]
  const res = await anon.from('kv').insert([{ key: a, hits: 5 }, { key: b }])
  expectResult(res, {
    status: 422,
    error: err(
      'invalid_request',
      'null value in column "hits" of relation "kv" violates not-null constraint',
      `Failing row contains (${b}, null, null).`,
    ),
  })
  const back = await anon.from('kv').select('key').in('key', [a, b])
  expectResult(back, { status: 200, data: [] })
})

test('insert with .select().single() of two rows is 406 and rolls back', async () => {
  const [a, b] = [fresh('kv'), fresh('kv')]
  const res = await anon.from('kv').insert([{ key: a }, { key: b }]).select().single()
  expectResult(res, {
    status: 406,
    error: err('not_acceptable', 'Cannot coerce the result to a single JSON object', 'The result contains 2 rows'),
  })
  const back = await anon.from('kv').select('key').in('key', [a, b])
  expectResult(back, { status: 200, data: [] })
})

test('insert of an empty array is 201 with []', async () => {
  expectResult(await anon.from('kv').insert([]).select(), { status: 201, data: [] })
})

test('upsert with onConflict on a column without a unique constraint fails', async () => {
  const key = fresh('kv')
  const res = await anon.from('kv').upsert({ key, value: 'x' }, { onConflict: 'value' })
  expectResult(res, {
    status: 422,
    error: err('invalid_request', 'there is no unique or exclusion constraint matching the ON CONFLICT specification'),
  })
  expectResult(await anon.from('kv').select('key').eq('key', key), { status: 200, data: [] })
})

test('upsert merges an existing row: 200 when every row was an update', async () => {
  const key = fresh('kv')
  await anon.from('kv').insert({ key, value: 'old', hits: 7 })
  const res = await anon.from('kv').upsert({ key, value: 'new' }).select()
  expectResult(res, { status: 200, data: [{ key, value: 'new', hits: 7 }] })
})

test('upsert of new and existing rows: 201, count and both rows', async () => {
  const [a, b] = [fresh('kv'), fresh('kv')]
  await anon.from('kv').insert({ key: a, value: 'old' })
  const res = await anon
    .from('kv')
    .upsert([{ key: a, value: 'merged' }, { key: b, value: 'inserted' }], { count: 'exact' })
    .select()
  expectResult(res, {
    status: 201,
    count: 2,
    data: [
      { key: a, value: 'merged', hits: 0 },
      { key: b, value: 'inserted', hits: 0 },
    ],
  })
})

test('upsert with onConflict', async () => {
  const key = fresh('kv')
  await anon.from('kv').insert({ key, value: 'old' })
  const res = await anon.from('kv').upsert({ key, value: 'on-conflict' }, { onConflict: 'key' }).select('key,value')
  expectResult(res, { status: 200, data: [{ key, value: 'on-conflict' }] })
})

test('upsert with ignoreDuplicates keeps the existing row and returns only inserted ones', async () => {
  const [a, b] = [fresh('kv'), fresh('kv')]
  await anon.from('kv').insert({ key: a, value: 'kept' })
  const res = await anon
    .from('kv')
    .upsert([{ key: a, value: 'ignored' }, { key: b, value: 'new' }], { ignoreDuplicates: true })
    .select()
  expectResult(res, { status: 201, data: [{ key: b, value: 'new', hits: 0 }] })
  const back = await anon.from('kv').select('key,value').eq('key', a)
  expectResult(back, { status: 200, data: [{ key: a, value: 'kept' }] })
})

test('upsert with ignoreDuplicates of only existing rows returns []', async () => {
  const key = fresh('kv')
  await anon.from('kv').insert({ key, value: 'kept' })
  const res = await anon.from('kv').upsert({ key, value: 'ignored' }, { ignoreDuplicates: true }).select()
  expectResult(res, { status: 201, data: [] })
})

test('upsert with defaultToNull: false fills missing keys with column defaults', async () => {
  const [a, b] = [fresh('kv'), fresh('kv')]
  await anon.from('kv').insert({ key: b, value: 'old', hits: 7 })
  const res = await anon
    .from('kv')
    .upsert([{ key: a, value: 'x', hits: 5 }, { key: b }], { defaultToNull: false })
    .select()
  // b existed: its value (no default) becomes null and hits its default 0.
  expectResult(res, {
    status: 201,
    data: [
      { key: a, value: 'x', hits: 5 },
      { key: b, value: null, hits: 0 },
    ],
  })
})

test('update: 204 without select, 200 with the updated rows', async () => {
  const key = fresh('kv')
  await anon.from('kv').insert({ key, value: 'before' })
  expectResult(await anon.from('kv').update({ value: 'first' }).eq('key', key), { status: 204 })
  const res = await anon.from('kv').update({ value: 'second', hits: 2 }).eq('key', key).select()
  expectResult(res, { status: 200, data: [{ key, value: 'second', hits: 2 }] })
})

test('update with an empty body changes nothing and returns []', async () => {
  const key = fresh('kv')
  await anon.from('kv').insert({ key, value: 'same' })
  expectResult(await anon.from('kv').update({}).eq('key', key).select(), { status: 200, data: [] })
  expectResult(await anon.from('kv').update({}).eq('key', key), { status: 204 })
  const back = await anon.from('kv').select('key,value').eq('key', key)
  expectResult(back, { status: 200, data: [{ key, value: 'same' }] })
})

test('update several rows with count=exact', async () => {
  const prefix = fresh('kvbulk')
  await anon.from('kv').insert([{ key: `${prefix}-a` }, { key: `${prefix}-b` }, { key: `${prefix}-c` }])
  const res = await anon.from('kv').update({ hits: 9 }, { count: 'exact' }).like('key', `${prefix}-%`)
  expectResult(res, { status: 204, count: 3 })
  const back = await anon.from('kv').select('key,hits').like('key', `${prefix}-%`).order('key')
  expectResult(back, {
    status: 200,
    data: [
      { key: `${prefix}-a`, hits: 9 },
      { key: `${prefix}-b`, hits: 9 },
      { key: `${prefix}-c`, hits: 9 },
    ],
  })
})

test('update affecting 0 rows: select() is [], select().maybeSingle() is null without error', async () => {
  const key = fresh('kv-missing')
  const many = await anon.from('kv').update({ value: 'x' }).eq('key', key).select()
  expectResult(many, { status: 200, data: [] })
  const maybe = await anon.from('kv').update({ value: 'x' }).eq('key', key).select().maybeSingle()
  expectResult(maybe, { status: 200, data: null })
})

test('update affecting 0 rows with select().single() is 406', async () => {
  const res = await anon.from('kv').update({ value: 'x' }).eq('key', fresh('kv-missing')).select().single()
  expectResult(res, {
    status: 406,
    error: err('not_acceptable', 'Cannot coerce the result to a single JSON object', 'The result contains 0 rows'),
  })
})

test('update of one row with select().maybeSingle() is that row', async () => {
  const key = fresh('kv')
  await anon.from('kv').insert({ key })
  const res = await anon.from('kv').update({ value: 'only' }).eq('key', key).select('key,value').maybeSingle()
  expectResult(res, { status: 200, data: { key, value: 'only' } })
})

test('maxAffected: an update over the limit fails and changes nothing', async () => {
  const [a, b] = [fresh('kv'), fresh('kv')]
  await anon.from('kv').insert([{ key: a }, { key: b }])
  const res = await anon.from('kv').update({ value: 'too many' }).in('key', [a, b]).maxAffected(1).select()
  expectResult(res, {
    status: 422,
    error: err('invalid_request', 'Query result exceeds max-affected preference constraint', 'The query affects 2 rows'),
  })
  const back = await anon.from('kv').select('key,value').in('key', [a, b]).order('key')
  expectResult(back, {
    status: 200,
    data: [
      { key: a, value: null },
      { key: b, value: null },
    ].sort((x, y) => (x.key < y.key ? -1 : 1)),
  })
})

test('delete: 204 without select, 200 with the deleted rows', async () => {
  const [a, b] = [fresh('kv'), fresh('kv')]
  await anon.from('kv').insert([{ key: a, value: 'A' }, { key: b, value: 'B' }])
  expectResult(await anon.from('kv').delete().eq('key', a), { status: 204 })
  const res = await anon.from('kv').delete().eq('key', b).select()
  expectResult(res, { status: 200, data: [{ key: b, value: 'B', hits: 0 }] })
  const back = await anon.from('kv').select('key').in('key', [a, b])
  expectResult(back, { status: 200, data: [] })
})

test('delete with count=exact and select(columns)', async () => {
  const [a, b] = [fresh('kv'), fresh('kv')].sort()
  await anon.from('kv').insert([{ key: a }, { key: b }])
  const res = await anon.from('kv').delete({ count: 'exact' }).in('key', [a, b]).select('key')
  // The representation comes back in the order the rows were deleted.
  res.data?.sort((x, y) => (x.key < y.key ? -1 : 1))
  expectResult(res, { status: 200, count: 2, data: [{ key: a }, { key: b }] })
})

test('delete with select().single() returns the deleted object', async () => {
  const key = fresh('kv')
  await anon.from('kv').insert({ key, value: 'bye' })
  const res = await anon.from('kv').delete().eq('key', key).select('key,value').single()
  expectResult(res, { status: 200, data: { key, value: 'bye' } })
})

test('write to a read-only table is refused (anon has no INSERT on gadgets)', async () => {
  const res = await anon.from('gadgets').insert({ id: 1000, name: 'Nope' })
  expectResult(res, { status: 403, error: err('rls_denied', 'permission denied for table gadgets') })
})
