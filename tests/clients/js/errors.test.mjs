// Error responses. This server answers client errors with 422 and its own codes
// (not_found, invalid_request, …) where PostgREST has 400 and PGRSTxxx/SQLSTATE
// codes; messages, details and hints follow PostgREST. Expected texts are from
// PostgREST's source and spec tests (src/library/PostgREST/Error.hs,
// ApiRequest/QueryParams.hs, test/spec/Feature/Query/*).
import { test } from 'node:test'
import { anon, assert, err, expectResult, service } from './helpers.mjs'

test('unknown table is 404 "Could not find the table"', async () => {
  const res = await anon.from('no_such_table_xyz').select()
  expectResult(res, {
    status: 404,
    error: err('not_found', "Could not find the table 'public.no_such_table_xyz' in the schema cache"),
  })
})

test('insert into an unknown table is 404 too', async () => {
  const res = await anon.from('no_such_table_xyz').insert({ a: 1 })
  expectResult(res, {
    status: 404,
    error: err('not_found', "Could not find the table 'public.no_such_table_xyz' in the schema cache"),
  })
})

test('bad filter value: PostgreSQL invalid input syntax', async () => {
  const res = await anon.from('gadgets').select('id').eq('id', 'abc')
  expectResult(res, {
    status: 422,
    error: err('invalid_request', 'invalid input syntax for type integer: "abc"'),
  })
})

test('bad value inside in()', async () => {
  const res = await anon.from('gadgets').select('id').in('id', ['a'])
  expectResult(res, {
    status: 422,
    error: err('invalid_request', 'invalid input syntax for type integer: "a"'),
  })
})

test('unknown column in select: PostgreSQL 42703 with its hint', async () => {
  const res = await anon.from('gadgets').select('nope')
  expectResult(res, {
    status: 422,
    error: err(
      'invalid_request',
      'column gadgets.nope does not exist',
      null,
      'Perhaps you meant to reference the column "gadgets.name".',
    ),
  })
})

test('unknown column in order', async () => {
  const res = await anon.from('gadgets').select('id').order('nope')
  expectResult(res, {
    status: 422,
    error: err(
      'invalid_request',
      'column gadgets.nope does not exist',
      null,
      'Perhaps you meant to reference the column "gadgets.name".',
    ),
  })
})

test('unknown column in an insert body is "Could not find the … column"', async () => {
  const single = await anon.from('kv').insert({ key: 'never-inserted', nope: 1 })
  const expected = {
    status: 422,
    error: err('invalid_request', "Could not find the 'nope' column of 'kv' in the schema cache"),
  }
  expectResult(single, expected)
  const bulk = await anon.from('kv').insert([{ key: 'never-inserted', nope: 1 }])
  expectResult(bulk, expected)
})

test('unknown relationship in an embed', async () => {
  const res = await anon.from('gadgets').select('name,no_such_rel_xyz(name)')
  expectResult(res, {
    status: 422,
    error: err(
      'invalid_request',
      "Could not find a relationship between 'gadgets' and 'no_such_rel_xyz' in the schema cache",
      "Searched for a foreign key relationship between 'gadgets' and 'no_such_rel_xyz' in the schema 'public', but no matches were found.",
    ),
  })
})

test('filter on a resource that is not embedded', async () => {
  const res = await anon.from('gadgets').select('id').eq('makers.country', 'US')
  expectResult(res, {
    status: 422,
    error: err(
      'invalid_request',
      "'makers' is not an embedded resource in this request",
      null,
      "Verify that 'makers' is included in the 'select' query parameter.",
    ),
  })
})

test('foreign key violation is 409', async () => {
  const res = await service.from('books').insert({ title: 'Nobody wrote this', author_id: 999, price: 1 })
  expectResult(res, {
    status: 409,
    error: err(
      'conflict',
      'insert or update on table "books" violates foreign key constraint "books_author_id_fkey"',
      'Key (author_id)=(999) is not present in table "authors".',
    ),
  })
})

test('check constraint violation', async () => {
  const res = await service
    .from('reviews')
    .insert({ book_id: 1, user_id: '00000000-0000-0000-0000-000000000009', rating: 9 })
  assert.equal(res.status, 422)
  assert.equal(res.data, null)
  assert.equal(res.count, null)
  // details carry the generated id and timestamp of the failing row
  assert.match(res.error.details, /^Failing row contains \(\d+, 1, 00000000-0000-0000-0000-000000000009, 9, null, f, .+\)\.$/)
  assert.deepStrictEqual(
    { ...res.error, details: null },
    err('invalid_request', 'new row for relation "reviews" violates check constraint "reviews_rating_check"'),
  )
})

test('throwOnError() throws a PostgrestError carrying code, message, details, hint', async () => {
  await assert.rejects(
    async () => anon.from('gadgets').select('id').eq('id', 'abc').throwOnError(),
    (e) => {
      assert.equal(e.name, 'PostgrestError')
      assert.deepStrictEqual(
        { code: e.code, message: e.message, details: e.details, hint: e.hint },
        err('invalid_request', 'invalid input syntax for type integer: "abc"'),
      )
      return true
    },
  )
})

// ---- PostgREST texts this server does not match yet ---------------------------

test(
  'unknown operator in a filter: PostgREST parse error details',
  async () => {
    // PostgREST doctest (QueryParams.hs): a.b=noop.0 ->
    // QPError "\"failed to parse filter (noop.0)\" (line 1, column 1)" "unexpected \"o\" expecting \"not\" or operator (eq, gt, ...)"
    const res = await anon.from('gadgets').select('id').filter('id', 'noop', '0')
    expectResult(res, {
      status: 422,
      error: err(
        'invalid_request',
        '"failed to parse filter (noop.0)" (line 1, column 1)',
        'unexpected "o" expecting "not" or operator (eq, gt, ...)',
      ),
    })
  },
)

test(
  'is with a value other than null/not_null/true/false/unknown',
  async () => {
    // PostgREST's pIsVal parser is labelled "isVal: (null, not_null, true, false, unknown)".
    const res = await anon.from('gadgets').select('id').filter('price', 'is', 'maybe')
    expectResult(res, {
      status: 422,
      error: err(
        'invalid_request',
        '"failed to parse filter (is.maybe)" (line 1, column 4)',
        'unexpected "m" expecting isVal: (null, not_null, true, false, unknown)',
      ),
    })
  },
)

test(
  'empty or(): PostgREST logic tree parse error',
  async () => {
    // PostgREST spec (AndOrParamsSpec): GET /entities?or=()
    const res = await anon.from('gadgets').select('id').or('')
    expectResult(res, {
      status: 422,
      error: err(
        'invalid_request',
        '"failed to parse logic tree (())" (line 1, column 4)',
        'unexpected ")" expecting field name (* or [a..z0..9_$]), negation operator (not) or logic operator (and, or)',
      ),
    })
  },
)

test(
  'malformed JSON path in select is a parse error',
  async () => {
    // PostgREST spec (JsonOperatorSpec): select=data->>--34 -> 400
    // "\"failed to parse select parameter (data->>--34)\" (line 1, column 9)", "unexpected \"-\" expecting digit"
    const res = await anon.from('gadgets').select('specs->>--34')
    expectResult(res, {
      status: 422,
      error: err(
        'invalid_request',
        '"failed to parse select parameter (specs->>--34)" (line 1, column 10)',
        'unexpected "-" expecting digit',
      ),
    })
  },
)

test(
  'select syntax error message says "select parameter"',
  async () => {
    const res = await anon.from('gadgets').select('name,(')
    assert.equal(res.status, 422)
    assert.equal(res.error?.code, 'invalid_request')
    assert.equal(res.error?.message, '"failed to parse select parameter (name,()" (line 1, column 6)')
  },
)

test(
  'unknown function without arguments (POST)',
  async () => {
    const res = await anon.rpc('no_such_function_xyz')
    expectResult(res, {
      status: 404,
      error: err(
        'not_found',
        'Could not find the function public.no_such_function_xyz without parameters in the schema cache',
        'Searched for the function public.no_such_function_xyz without parameters or with a single unnamed json/jsonb parameter, but no matches were found in the schema cache.',
      ),
    })
  },
)

test(
  'unknown function without arguments (GET)',
  async () => {
    const res = await anon.rpc('no_such_function_xyz', {}, { get: true })
    expectResult(res, {
      status: 404,
      error: err(
        'not_found',
        'Could not find the function public.no_such_function_xyz without parameters in the schema cache',
        'Searched for the function public.no_such_function_xyz without parameters, but no matches were found in the schema cache.',
      ),
    })
  },
)

test(
  'function called with an unknown argument (GET)',
  async () => {
    // PostgREST spec (RpcSpec): GET /rpc/add_them?a=1&b=2&smthelse=blabla
    const res = await anon.rpc('add_them', { a: 1, b: 2, smthelse: 'blabla' }, { get: true })
    expectResult(res, {
      status: 404,
      error: err(
        'not_found',
        'Could not find the function public.add_them(a, b, smthelse) in the schema cache',
        'Searched for the function public.add_them with parameters a, b, smthelse, but no matches were found in the schema cache.',
        'Perhaps you meant to call the function public.add_them(a, b)',
      ),
    })
  },
)

test(
  'function called with an unknown argument (POST)',
  async () => {
    const res = await anon.rpc('add_them', { a: 1, b: 2, smthelse: 'blabla' })
    expectResult(res, {
      status: 404,
      error: err(
        'not_found',
        'Could not find the function public.add_them(a, b, smthelse) in the schema cache',
        'Searched for the function public.add_them with parameters a, b, smthelse or with a single unnamed json/jsonb parameter, but no matches were found in the schema cache.',
        'Perhaps you meant to call the function public.add_them(a, b)',
      ),
    })
  },
)
