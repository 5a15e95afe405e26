// Reads: select (columns, aliases, casts, JSON paths, embeds), order, limit,
// range, single/maybeSingle, csv, counts and stripped nulls.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { anon, err, expectResult } from './helpers.mjs'

const GADGET_1 = {
  id: 1,
  name: 'Rocket Skates',
  price: 99.5,
  tags: ['speed', 'outdoor'],
  specs: { color: 'red', wheels: 4 },
  available: '[1,10)',
  released: '2020-01-15',
  description: 'Fast skates powered by small rockets',
  fts: "'fast':1 'power':3 'rocket':6 'skate':2 'small':5",
  maker_id: 1,
}

test('select * returns every column with PostgreSQL JSON types', async () => {
  const res = await anon.from('gadgets').select('*').eq('id', 1)
  expectResult(res, { status: 200, data: [GADGET_1] })
})

test('select() without arguments is select=*', async () => {
  const res = await anon.from('makers').select().order('id')
  expectResult(res, {
    status: 200,
    data: [
      { id: 1, name: 'Acme', country: 'US' },
      { id: 2, name: 'Globex', country: 'DE' },
      { id: 3, name: 'Initech', country: null },
    ],
  })
})

test('select with listed columns (whitespace is stripped by the client)', async () => {
  const res = await anon.from('gadgets').select('id, name, price').order('id')
  expectResult(res, {
    status: 200,
    data: [
      { id: 1, name: 'Rocket Skates', price: 99.5 },
      { id: 2, name: 'Giant Magnet', price: 15 },
      { id: 3, name: 'Portable Hole', price: 42 },
      { id: 4, name: 'Stapler', price: 7.25 },
      { id: 5, name: 'Widget', price: null },
    ],
  })
})

test('select with aliases and casts', async () => {
  const res = await anon
    .from('gadgets')
    .select('gadget:name,cost:price::text,released::text,maker_id::text')
    .in('id', [1, 5])
    .order('id')
  expectResult(res, {
    status: 200,
    data: [
      { gadget: 'Rocket Skates', cost: '99.50', released: '2020-01-15', maker_id: '1' },
      { gadget: 'Widget', cost: null, released: null, maker_id: null },
    ],
  })
})

test('select JSON paths: -> keeps JSON, ->> gives text, missing keys are null', async () => {
  const res = await anon
    .from('gadgets')
    .select('id,specs->color,specs->>wheels,specs->strength,specs->nope')
    .lte('id', 2)
    .order('id')
  expectResult(res, {
    status: 200,
    data: [
      { id: 1, color: 'red', wheels: '4', strength: null, nope: null },
      { id: 2, color: 'grey', wheels: null, strength: 9, nope: null },
    ],
  })
})

test('select JSON paths with aliases and a cast', async () => {
  const res = await anon
    .from('gadgets')
    .select('id,colour:specs->>color,wheel_count:specs->wheels::int')
    .lte('id', 2)
    .order('id')
  expectResult(res, {
    status: 200,
    data: [
      { id: 1, colour: 'red', wheel_count: 4 },
      { id: 2, colour: 'grey', wheel_count: null },
    ],
  })
})

test('embed many-to-one as an object, null when the foreign key is null', async () => {
  const res = await anon.from('gadgets').select('name,makers(name)').order('id')
  expectResult(res, {
    status: 200,
    data: [
      { name: 'Rocket Skates', makers: { name: 'Acme' } },
      { name: 'Giant Magnet', makers: { name: 'Acme' } },
      { name: 'Portable Hole', makers: { name: 'Globex' } },
      { name: 'Stapler', makers: { name: 'Initech' } },
      { name: 'Widget', makers: null },
    ],
  })
})

test('embed one-to-many as an array, [] when there are no children', async () => {
  const res = await anon
    .from('gadgets')
    .select('name,parts(name)')
    .order('id')
    .order('id', { referencedTable: 'parts' })
  expectResult(res, {
    status: 200,
    data: [
      { name: 'Rocket Skates', parts: [{ name: 'Wheel' }, { name: 'Rocket' }, { name: 'Strap' }] },
      { name: 'Giant Magnet', parts: [{ name: 'Coil' }] },
      { name: 'Portable Hole', parts: [{ name: 'Fabric' }] },
      { name: 'Stapler', parts: [] },
      { name: 'Widget', parts: [] },
    ],
  })
})

test('embed with * and with aliases for the relation and its columns', async () => {
  const res = await anon
    .from('gadgets')
    .select('name,maker:makers(*),components:parts(part:name,weight)')
    .eq('id', 2)
  expectResult(res, {
    status: 200,
    data: [
      {
        name: 'Giant Magnet',
        maker: { id: 1, name: 'Acme', country: 'US' },
        components: [{ part: 'Coil', weight: 300 }],
      },
    ],
  })
})

test('nested embeds (makers -> gadgets -> parts)', async () => {
  const res = await anon
    .from('makers')
    .select('name,gadgets(name,parts(name,weight))')
    .eq('id', 1)
    .order('id', { referencedTable: 'gadgets' })
    .order('id', { referencedTable: 'gadgets.parts' })
  expectResult(res, {
    status: 200,
    data: [
      {
        name: 'Acme',
        gadgets: [
          {
            name: 'Rocket Skates',
            parts: [
              { name: 'Wheel', weight: 100 },
              { name: 'Rocket', weight: 500 },
              { name: 'Strap', weight: 20 },
            ],
          },
          { name: 'Giant Magnet', parts: [{ name: 'Coil', weight: 300 }] },
        ],
      },
    ],
  })
})

test('!inner embed filters the parent rows by the embedded filter', async () => {
  const res = await anon
    .from('gadgets')
    .select('name,parts!inner(name)')
    .eq('parts.name', 'Coil')
  expectResult(res, { status: 200, data: [{ name: 'Giant Magnet', parts: [{ name: 'Coil' }] }] })
})

test('embedded filter without !inner only nulls the embed', async () => {
  const res = await anon
    .from('gadgets')
    .select('id,makers(name)')
    .eq('makers.country', 'US')
    .order('id')
  expectResult(res, {
    status: 200,
    data: [
      { id: 1, makers: { name: 'Acme' } },
      { id: 2, makers: { name: 'Acme' } },
      { id: 3, makers: null },
      { id: 4, makers: null },
      { id: 5, makers: null },
    ],
  })
})

test('!inner many-to-one embed with an exact count counts the filtered parents', async () => {
  const res = await anon
    .from('gadgets')
    .select('id,makers!inner(name)', { count: 'exact' })
    .eq('makers.country', 'US')
    .order('id')
  expectResult(res, {
    status: 200,
    count: 2,
    data: [
      { id: 1, makers: { name: 'Acme' } },
      { id: 2, makers: { name: 'Acme' } },
    ],
  })
})

test('empty embed makers!inner() filters without returning the embed', async () => {
  const res = await anon.from('gadgets').select('id,makers!inner()').eq('makers.country', 'DE')
  expectResult(res, { status: 200, data: [{ id: 3 }] })
})

test('embed disambiguated by column and by foreign key name', async () => {
  const byColumn = await anon.from('gadgets').select('name,makers!maker_id(name)').eq('id', 4)
  expectResult(byColumn, { status: 200, data: [{ name: 'Stapler', makers: { name: 'Initech' } }] })
  const byFk = await anon
    .from('gadgets')
    .select('name,makers!gadgets_maker_id_fkey(name)')
    .eq('id', 4)
  expectResult(byFk, { status: 200, data: [{ name: 'Stapler', makers: { name: 'Initech' } }] })
})

test('spread a many-to-one embed into the parent object', async () => {
  const res = await anon
    .from('gadgets')
    .select('name,...makers(maker_name:name,country)')
    .in('id', [1, 3])
    .order('id')
  expectResult(res, {
    status: 200,
    data: [
      { name: 'Rocket Skates', maker_name: 'Acme', country: 'US' },
      { name: 'Portable Hole', maker_name: 'Globex', country: 'DE' },
    ],
  })
})

test('embed across the demo bookstore (authors and reviews under RLS)', async () => {
  const res = await anon
    .from('books')
    .select('title,authors(name),reviews(rating,body)')
    .in('id', [1, 2])
    .order('id')
  // Review 4 (book 2) is an unpublished draft: anon does not see it.
  expectResult(res, {
    status: 200,
    data: [
      {
        title: 'A Wizard of Earthsea',
        authors: { name: 'Ursula K. Le Guin' },
        reviews: [{ rating: 5, body: 'A classic.' }],
      },
      { title: 'The Left Hand of Darkness', authors: { name: 'Ursula K. Le Guin' }, reviews: [] },
    ],
  })
})

test('order descending puts nulls first by default', async () => {
  const res = await anon.from('gadgets').select('id,price').order('price', { ascending: false })
  expectResult(res, {
    status: 200,
    data: [
      { id: 5, price: null },
      { id: 1, price: 99.5 },
      { id: 3, price: 42 },
      { id: 2, price: 15 },
      { id: 4, price: 7.25 },
    ],
  })
})

test('order with nullsFirst: true (ascending) and nullsFirst: false (descending)', async () => {
  const first = await anon
    .from('gadgets')
    .select('id')
    .order('price', { ascending: true, nullsFirst: true })
  expectResult(first, { status: 200, data: [{ id: 5 }, { id: 4 }, { id: 2 }, { id: 3 }, { id: 1 }] })
  const last = await anon
    .from('gadgets')
    .select('id')
    .order('price', { ascending: false, nullsFirst: false })
  expectResult(last, { status: 200, data: [{ id: 1 }, { id: 3 }, { id: 2 }, { id: 4 }, { id: 5 }] })
})

test('order by several columns and by a JSON path', async () => {
  const multi = await anon
    .from('gadgets')
    .select('maker_id,id')
    .order('maker_id', { ascending: true })
    .order('id', { ascending: false })
  expectResult(multi, {
    status: 200,
    data: [
      { maker_id: 1, id: 2 },
      { maker_id: 1, id: 1 },
      { maker_id: 2, id: 3 },
      { maker_id: 3, id: 4 },
      { maker_id: null, id: 5 },
    ],
  })
  const json = await anon
    .from('gadgets')
    .select('id,color:specs->>color')
    .order('specs->>color')
    .order('id')
  expectResult(json, {
    status: 200,
    data: [
      { id: 3, color: 'black' },
      { id: 2, color: 'grey' },
      { id: 1, color: 'red' },
      { id: 4, color: 'red' },
      { id: 5, color: null },
    ],
  })
})

test('order, limit and range on a referenced table', async () => {
  const ordered = await anon
    .from('gadgets')
    .select('id,parts(name)')
    .eq('id', 1)
    .order('name', { referencedTable: 'parts' })
  expectResult(ordered, {
    status: 200,
    data: [{ id: 1, parts: [{ name: 'Rocket' }, { name: 'Strap' }, { name: 'Wheel' }] }],
  })
  const limited = await anon
    .from('gadgets')
    .select('id,parts(name)')
    .eq('id', 1)
    .order('weight', { referencedTable: 'parts', ascending: false })
    .limit(2, { referencedTable: 'parts' })
  expectResult(limited, {
    status: 200,
    data: [{ id: 1, parts: [{ name: 'Rocket' }, { name: 'Wheel' }] }],
  })
  const ranged = await anon
    .from('gadgets')
    .select('id,parts(id)')
    .eq('id', 1)
    .order('id', { referencedTable: 'parts' })
    .range(1, 2, { referencedTable: 'parts' })
  expectResult(ranged, { status: 200, data: [{ id: 1, parts: [{ id: 2 }, { id: 3 }] }] })
})

test('limit on a nested referenced table (gadgets.parts)', async () => {
  const res = await anon
    .from('makers')
    .select('name,gadgets(name,parts(name))')
    .eq('id', 1)
    .order('id', { referencedTable: 'gadgets' })
    .order('weight', { referencedTable: 'gadgets.parts', ascending: false })
    .limit(1, { referencedTable: 'gadgets.parts' })
  expectResult(res, {
    status: 200,
    data: [
      {
        name: 'Acme',
        gadgets: [
          { name: 'Rocket Skates', parts: [{ name: 'Rocket' }] },
          { name: 'Giant Magnet', parts: [{ name: 'Coil' }] },
        ],
      },
    ],
  })
})

test('limit', async () => {
  const res = await anon.from('gadgets').select('id').order('id').limit(2)
  expectResult(res, { status: 200, data: [{ id: 1 }, { id: 2 }] })
})

test('range without a count is 200', async () => {
  const res = await anon.from('gadgets').select('id').order('id').range(1, 3)
  expectResult(res, { status: 200, data: [{ id: 2 }, { id: 3 }, { id: 4 }] })
})

test('range with count=exact is 206 with the total', async () => {
  const res = await anon.from('gadgets').select('id', { count: 'exact' }).order('id').range(1, 2)
  expectResult(res, { status: 206, count: 5, data: [{ id: 2 }, { id: 3 }] })
})

test('limit with count=exact is 206 when there are more rows', async () => {
  const res = await anon.from('gadgets').select('id', { count: 'exact' }).order('id').limit(2)
  expectResult(res, { status: 206, count: 5, data: [{ id: 1 }, { id: 2 }] })
})

test('a range past the end: [] without a count, 416 with one', async () => {
  const noCount = await anon.from('gadgets').select('id').order('id').range(10, 12)
  expectResult(noCount, { status: 200, data: [] })
  const counted = await anon
    .from('gadgets')
    .select('id', { count: 'exact' })
    .order('id')
    .range(10, 12)
  expectResult(counted, {
    status: 416,
    error: err(
      'range_not_satisfiable',
      'Requested range not satisfiable',
      'An offset of 10 was requested, but there are only 5 rows.',
    ),
  })
})

test('count=exact with a filter returns the full result and its count', async () => {
  const res = await anon.from('gadgets').select('id', { count: 'exact' }).gt('price', 10).order('id')
  expectResult(res, { status: 200, count: 3, data: [{ id: 1 }, { id: 2 }, { id: 3 }] })
})

test('count=exact with head:true returns only the count', async () => {
  const all = await anon.from('gadgets').select('*', { count: 'exact', head: true })
  expectResult(all, { status: 200, count: 5 })
  const none = await anon.from('gadgets').select('*', { count: 'exact', head: true }).eq('id', 99)
  expectResult(none, { status: 200, count: 0 })
})

test('head:true without a count returns neither data nor count', async () => {
  const res = await anon.from('gadgets').select('*', { head: true })
  expectResult(res, { status: 200 })
})

test('count=planned with head:true (primary key lookup: the planner says 1)', async () => {
  const res = await anon.from('gadgets').select('*', { count: 'planned', head: true }).eq('id', 1)
  expectResult(res, { status: 200, count: 1 })
})

test('count=estimated with head:true below any threshold is the exact count', async () => {
  const res = await anon.from('gadgets').select('*', { count: 'estimated', head: true }).eq('id', 1)
  expectResult(res, { status: 200, count: 1 })
})

test(
  'count=estimated without db-max-rows is max(exact, planned), as PostgREST computes it',
  async () => {
    // PostgREST (MainTx.hs): `if tableTotal > configDbMaxRows then max tableTotal planned`,
    // and with db-max-rows unset (Nothing) that comparison is always true.
    const planned = await anon.from('gadgets').select('*', { count: 'planned', head: true })
    const expectedCount = Math.max(5, planned.count)
    const res = await anon.from('gadgets').select('*', { count: 'estimated', head: true })
    expectResult(res, { status: expectedCount > 5 ? 206 : 200, count: expectedCount })
  },
)

test('single() returns one object', async () => {
  const res = await anon.from('gadgets').select('id,name').eq('id', 3).single()
  expectResult(res, { status: 200, data: { id: 3, name: 'Portable Hole' } })
})

test('single() with 0 rows is 406 "The result contains 0 rows"', async () => {
  const res = await anon.from('gadgets').select('id').eq('id', 99).single()
  expectResult(res, {
    status: 406,
    error: err('not_acceptable', 'Cannot coerce the result to a single JSON object', 'The result contains 0 rows'),
  })
})

test('single() with several rows is 406 "The result contains 5 rows"', async () => {
  const res = await anon.from('gadgets').select('id').single()
  expectResult(res, {
    status: 406,
    error: err('not_acceptable', 'Cannot coerce the result to a single JSON object', 'The result contains 5 rows'),
  })
})

test('maybeSingle() with 0 rows is data null and no error', async () => {
  const res = await anon.from('gadgets').select('id').eq('id', 99).maybeSingle()
  expectResult(res, { status: 200, data: null })
})

test('maybeSingle() with 1 row is that row', async () => {
  const res = await anon.from('gadgets').select('id,name').eq('id', 4).maybeSingle()
  expectResult(res, { status: 200, data: { id: 4, name: 'Stapler' } })
})

test('maybeSingle() with several rows is the client-side PGRST116 error', async () => {
  const res = await anon.from('gadgets').select('id').lte('id', 2).maybeSingle()
  expectResult(res, {
    status: 406,
    error: {
      code: 'PGRST116',
      details: 'Results contain 2 rows, application/vnd.pgrst.object+json requires 1 row',
      hint: null,
      message: 'JSON object requested, multiple (or no) rows returned',
    },
  })
})

test('csv() returns PostgREST CSV: header, quoted text, arrays and JSON, empty nulls', async () => {
  const res = await anon
    .from('gadgets')
    .select('id,name,price,tags,specs')
    .in('id', [1, 5])
    .order('id')
    .csv()
  expectResult(res, {
    status: 200,
    data:
      'id,name,price,tags,specs\n' +
      '1,"Rocket Skates",99.50,"{speed,outdoor}","{""color"": ""red"", ""wheels"": 4}"\n' +
      '5,Widget,,{},{}',
  })
})

test('csv() of an empty result is a lone newline', async () => {
  const res = await anon.from('gadgets').select('id,name').eq('id', 99).csv()
  expectResult(res, { status: 200, data: '\n' })
})

test('stripNulls() drops null members (array and single object)', async () => {
  const many = await anon.from('makers').select('id,country').order('id').stripNulls()
  expectResult(many, {
    status: 200,
    data: [{ id: 1, country: 'US' }, { id: 2, country: 'DE' }, { id: 3 }],
  })
  const one = await anon.from('makers').select('*').eq('id', 3).single().stripNulls()
  expectResult(one, { status: 200, data: { id: 3, name: 'Initech' } })
})

test('aggregates: sum() and count() grouped by the other columns, and inside an embed', async () => {
  const grouped = await anon
    .from('gadgets')
    .select('maker_id, total:price.sum(), count()')
    .not('maker_id', 'is', null)
    .order('maker_id')
  expectResult(grouped, {
    status: 200,
    data: [
      { maker_id: 1, total: 114.5, count: 2 },
      { maker_id: 2, total: 42, count: 1 },
      { maker_id: 3, total: 7.25, count: 1 },
    ],
  })
  const embedded = await anon.from('makers').select('name, gadgets(count())').order('id')
  expectResult(embedded, {
    status: 200,
    data: [
      { name: 'Acme', gadgets: [{ count: 2 }] },
      { name: 'Globex', gadgets: [{ count: 1 }] },
      { name: 'Initech', gadgets: [{ count: 1 }] },
    ],
  })
})

test('geojson() is answered by the database\'s application/geo+json handler', async () => {
  const res = await anon.from('makers').select('*').in('id', [1, 3]).order('id').geojson()
  expectResult(res, {
    status: 200,
    data: {
      type: 'FeatureCollection',
      features: [
        { type: 'Feature', geometry: null, properties: { id: 1, name: 'Acme', country: 'US' } },
        { type: 'Feature', geometry: null, properties: { id: 3, name: 'Initech', country: null } },
      ],
    },
  })
})

test('explain() answers the plan, as text and as JSON with options', async () => {
  const text = await anon.from('gadgets').select('id').eq('id', 1).explain()
  assert.equal(text.status, 200, JSON.stringify(text.error))
  assert.equal(typeof text.data, 'string')
  assert.match(text.data, /cost=/)
  const json = await anon
    .from('gadgets')
    .select('id, name')
    .eq('id', 1)
    .explain({ format: 'json', analyze: true, verbose: true })
  assert.equal(json.status, 200, JSON.stringify(json.error))
  assert.ok(Array.isArray(json.data))
  assert.equal(json.data[0].Plan['Actual Rows'], 1)
  assert.ok(Array.isArray(json.data[0].Plan.Output))
})
