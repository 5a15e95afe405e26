// Every filter helper of postgrest-js against the gadgets fixture.
import { test } from 'node:test'
import { anon, expectResult } from './helpers.mjs'

const ids = (...list) => list.map((id) => ({ id }))
const gadgetIds = () => anon.from('gadgets').select('id').order('id')

test('eq', async () => {
  expectResult(await gadgetIds().eq('name', 'Giant Magnet'), { status: 200, data: ids(2) })
})

test('eq on a numeric column with a decimal value', async () => {
  expectResult(await gadgetIds().eq('price', 7.25), { status: 200, data: ids(4) })
})

test('neq (nulls are not "not equal")', async () => {
  expectResult(await gadgetIds().neq('price', 15), { status: 200, data: ids(1, 3, 4) })
})

test('gt and lt', async () => {
  expectResult(await gadgetIds().gt('price', 15), { status: 200, data: ids(1, 3) })
  expectResult(await gadgetIds().lt('price', 15), { status: 200, data: ids(4) })
})

test('gte and lte (on a date column)', async () => {
  expectResult(await gadgetIds().gte('released', '2020-01-15'), { status: 200, data: ids(1, 3) })
  expectResult(await gadgetIds().lte('released', '2019-06-01'), { status: 200, data: ids(2, 4) })
})

test('like is case sensitive; * works as a wildcard', async () => {
  expectResult(await gadgetIds().like('name', '%S%'), { status: 200, data: ids(1, 4) })
  expectResult(await gadgetIds().like('name', '*Hole'), { status: 200, data: ids(3) })
})

test('ilike is case insensitive', async () => {
  expectResult(await gadgetIds().ilike('name', '%s%'), { status: 200, data: ids(1, 4) })
  expectResult(await gadgetIds().ilike('name', '*MAG*'), { status: 200, data: ids(2) })
})

test('likeAllOf', async () => {
  expectResult(await gadgetIds().likeAllOf('name', ['%o%', '%e%']), { status: 200, data: ids(1, 3) })
})

test('likeAnyOf', async () => {
  expectResult(await gadgetIds().likeAnyOf('name', ['R%', 'W%']), { status: 200, data: ids(1, 5) })
})

test('ilikeAllOf', async () => {
  expectResult(await gadgetIds().ilikeAllOf('name', ['%O%', '%t%']), { status: 200, data: ids(1, 3) })
})

test('ilikeAnyOf', async () => {
  expectResult(await gadgetIds().ilikeAnyOf('name', ['r%', 'w%']), { status: 200, data: ids(1, 5) })
})

test('is null', async () => {
  expectResult(await gadgetIds().is('price', null), { status: 200, data: ids(5) })
})

test('is true / is false on a boolean column', async () => {
  const yes = await anon.from('books').select('id').is('in_stock', true).lte('id', 3).order('id')
  expectResult(yes, { status: 200, data: ids(1, 2, 3) })
  const no = await anon.from('books').select('id').is('in_stock', false)
  expectResult(no, { status: 200, data: [] })
})

test('in, with values the client has to quote', async () => {
  const res = await gadgetIds().in('name', ['Widget', 'Stapler', 'a,b', '(x)'])
  expectResult(res, { status: 200, data: ids(4, 5) })
})

test('in with an empty list matches nothing', async () => {
  expectResult(await gadgetIds().in('id', []), { status: 200, data: [] })
})

test('notIn', async () => {
  expectResult(await gadgetIds().notIn('id', [1, 2, 3]), { status: 200, data: ids(4, 5) })
})

test('isDistinct treats null as a value', async () => {
  const res = await anon.from('makers').select('id').isDistinct('country', 'US').order('id')
  expectResult(res, { status: 200, data: ids(2, 3) })
})

test('contains / containedBy on text[]', async () => {
  expectResult(await gadgetIds().contains('tags', ['outdoor']), { status: 200, data: ids(1, 3) })
  expectResult(await gadgetIds().containedBy('tags', ['outdoor', 'speed', 'metal']), {
    status: 200,
    data: ids(1, 2, 5),
  })
})

test('contains / containedBy on jsonb objects', async () => {
  expectResult(await gadgetIds().contains('specs', { color: 'red' }), { status: 200, data: ids(1, 4) })
  expectResult(await gadgetIds().contains('specs', {}), { status: 200, data: ids(1, 2, 3, 4, 5) })
  expectResult(await gadgetIds().containedBy('specs', { color: 'black', wheels: 4 }), {
    status: 200,
    data: ids(3, 5),
  })
})

test('contains / containedBy on int4range', async () => {
  expectResult(await gadgetIds().contains('available', '[2,4)'), { status: 200, data: ids(1) })
  expectResult(await gadgetIds().containedBy('available', '[0,15)'), { status: 200, data: ids(1, 5) })
})

test('rangeGt (sr) and rangeGte (nxl)', async () => {
  expectResult(await gadgetIds().rangeGt('available', '[1,5)'), { status: 200, data: ids(2, 3) })
  expectResult(await gadgetIds().rangeGte('available', '[5,6)'), { status: 200, data: ids(2, 3) })
})

test('rangeLt (sl) and rangeLte (nxr)', async () => {
  expectResult(await gadgetIds().rangeLt('available', '[20,25)'), { status: 200, data: ids(1, 2, 5) })
  expectResult(await gadgetIds().rangeLte('available', '[1,20)'), { status: 200, data: ids(1, 2, 5) })
})

test('rangeAdjacent (adj)', async () => {
  expectResult(await gadgetIds().rangeAdjacent('available', '[10,20)'), { status: 200, data: ids(1, 3) })
})

test('overlaps on arrays and on ranges', async () => {
  expectResult(await gadgetIds().overlaps('tags', ['magic', 'metal']), { status: 200, data: ids(2, 3) })
  expectResult(await gadgetIds().overlaps('available', '[8,21)'), { status: 200, data: ids(1, 2, 3) })
})

test('textSearch (to_tsquery) on a tsvector column with config english', async () => {
  expectResult(await gadgetIds().textSearch('fts', 'rocket', { config: 'english' }), {
    status: 200,
    data: ids(1),
  })
  expectResult(await gadgetIds().textSearch('fts', 'magnet & anvil', { config: 'english' }), {
    status: 200,
    data: ids(2),
  })
})

test('textSearch type plain (plainto_tsquery)', async () => {
  const res = await gadgetIds().textSearch('fts', 'magnet anvils', { config: 'english', type: 'plain' })
  expectResult(res, { status: 200, data: ids(2) })
})

test('textSearch type phrase (phraseto_tsquery)', async () => {
  const hit = await gadgetIds().textSearch('fts', 'red stapler', { config: 'english', type: 'phrase' })
  expectResult(hit, { status: 200, data: ids(4) })
  const miss = await gadgetIds().textSearch('fts', 'stapler red', { config: 'english', type: 'phrase' })
  expectResult(miss, { status: 200, data: [] })
})

test('textSearch type websearch (websearch_to_tsquery)', async () => {
  const res = await gadgetIds().textSearch('fts', '"small rockets" or pocket -anvils', {
    config: 'english',
    type: 'websearch',
  })
  expectResult(res, { status: 200, data: ids(1, 3) })
})

test('textSearch on a text column converts it with the config', async () => {
  const res = await gadgetIds().textSearch('description', 'anvil', { config: 'english' })
  expectResult(res, { status: 200, data: ids(2) })
})

test('regexMatch and regexIMatch', async () => {
  expectResult(await gadgetIds().regexMatch('name', '^[RW]'), { status: 200, data: ids(1, 5) })
  expectResult(await gadgetIds().regexIMatch('name', '^[rw]'), { status: 200, data: ids(1, 5) })
})

test('filters on JSON paths (->> as text, -> as jsonb)', async () => {
  expectResult(await gadgetIds().eq('specs->>color', 'red'), { status: 200, data: ids(1, 4) })
  expectResult(await gadgetIds().gt('specs->wheels', 3), { status: 200, data: ids(1) })
})

test('match ANDs equality filters', async () => {
  expectResult(await gadgetIds().match({ maker_id: 1, price: 15 }), { status: 200, data: ids(2) })
  expectResult(await gadgetIds().match({ name: 'Giant Magnet' }), { status: 200, data: ids(2) })
})

test('not with is, in, like and cs', async () => {
  expectResult(await gadgetIds().not('price', 'is', null), { status: 200, data: ids(1, 2, 3, 4) })
  expectResult(await gadgetIds().not('name', 'in', '(Widget,Stapler)'), { status: 200, data: ids(1, 2, 3) })
  expectResult(await gadgetIds().not('name', 'like', '%a%'), { status: 200, data: ids(5) })
  expectResult(await gadgetIds().not('tags', 'cs', '{outdoor}'), { status: 200, data: ids(2, 4, 5) })
})

test('or', async () => {
  expectResult(await gadgetIds().or('price.lt.10,name.eq.Widget'), { status: 200, data: ids(4, 5) })
})

test('or with a nested and()', async () => {
  const res = await gadgetIds().or('and(price.gt.10,price.lt.50),id.eq.5')
  expectResult(res, { status: 200, data: ids(2, 3, 5) })
})

test('or combined with other filters is ANDed with them', async () => {
  const res = await gadgetIds().or('tags.cs.{outdoor},tags.cs.{metal}').lt('price', 50)
  expectResult(res, { status: 200, data: ids(2, 3) })
})

test('or with a field-level not (name.not.in) and a negated and()', async () => {
  const notIn = await gadgetIds().or('name.not.in.("Giant Magnet",Stapler,Widget),price.is.null')
  expectResult(notIn, { status: 200, data: ids(1, 3, 5) })
  const notAnd = await gadgetIds().or('not.and(price.gt.10,price.lt.50),id.eq.2')
  expectResult(notAnd, { status: 200, data: ids(1, 2, 4) })
})

test('or with an in() list holding a quoted comma, and with * wildcards', async () => {
  const quoted = await gadgetIds().or('name.in.("Giant Magnet","a,b"),id.eq.5')
  expectResult(quoted, { status: 200, data: ids(2, 5) })
  const wild = await gadgetIds().or('name.ilike.*hole*,name.like.W*')
  expectResult(wild, { status: 200, data: ids(3, 5) })
})

test('or on a referenced (one-to-many) table filters the embedded rows', async () => {
  const res = await anon
    .from('gadgets')
    .select('id,parts(name)')
    .lte('id', 2)
    .order('id')
    .order('id', { referencedTable: 'parts' })
    .or('weight.gt.200,name.eq.Strap', { referencedTable: 'parts' })
  expectResult(res, {
    status: 200,
    data: [
      { id: 1, parts: [{ name: 'Rocket' }, { name: 'Strap' }] },
      { id: 2, parts: [{ name: 'Coil' }] },
    ],
  })
})

test('or on a referenced (many-to-one) table, with and without !inner', async () => {
  const plain = await anon
    .from('gadgets')
    .select('id,makers(name)')
    .or('country.eq.DE,name.eq.Initech', { referencedTable: 'makers' })
    .order('id')
  expectResult(plain, {
    status: 200,
    data: [
      { id: 1, makers: null },
      { id: 2, makers: null },
      { id: 3, makers: { name: 'Globex' } },
      { id: 4, makers: { name: 'Initech' } },
      { id: 5, makers: null },
    ],
  })
  const inner = await anon
    .from('gadgets')
    .select('id,makers!inner(name)')
    .or('country.eq.DE,name.eq.Initech', { referencedTable: 'makers' })
    .order('id')
  expectResult(inner, {
    status: 200,
    data: [
      { id: 3, makers: { name: 'Globex' } },
      { id: 4, makers: { name: 'Initech' } },
    ],
  })
})

test('is null / not is null on an embedded resource', async () => {
  const noMaker = await anon.from('gadgets').select('id,makers(name)').is('makers', null)
  expectResult(noMaker, { status: 200, data: [{ id: 5, makers: null }] })
  const withParts = await anon
    .from('gadgets')
    .select('id,parts(name)')
    .not('parts', 'is', null)
    .order('id')
    .order('id', { referencedTable: 'parts' })
  expectResult(withParts, {
    status: 200,
    data: [
      { id: 1, parts: [{ name: 'Wheel' }, { name: 'Rocket' }, { name: 'Strap' }] },
      { id: 2, parts: [{ name: 'Coil' }] },
      { id: 3, parts: [{ name: 'Fabric' }] },
    ],
  })
})

test('filter() with raw operators: in, cs, not.gt and adj', async () => {
  expectResult(await gadgetIds().filter('name', 'in', '("Giant Magnet",Stapler)'), { status: 200, data: ids(2, 4) })
  expectResult(await gadgetIds().filter('tags', 'cs', '{magic}'), { status: 200, data: ids(3) })
  expectResult(await gadgetIds().filter('price', 'not.gt', '20'), { status: 200, data: ids(2, 4) })
  expectResult(await gadgetIds().filter('available', 'adj', '[10,20)'), { status: 200, data: ids(1, 3) })
})

test('several filters on one request are ANDed', async () => {
  const res = await gadgetIds().gte('price', 10).contains('tags', ['outdoor']).neq('maker_id', 2)
  expectResult(res, { status: 200, data: ids(1) })
})
