//! The catalog queries the schema cache is loaded with, each reading the
//! schemas named in `$1` (`text[]`), in one repeatable-read snapshot.

/// The snapshot the catalog queries read: repeatable read, read-only, and
/// an empty `search_path` so that `format_type()` qualifies every type
/// outside `pg_catalog`.
pub(crate) const SNAPSHOT: &str =
    "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET LOCAL search_path TO ''";

/// The tables that views of the exposed schemas show (their rules' dependencies):
/// their keys decide the views' relationships. One query text, in
/// [`RELATIONS`] and [`FOREIGN_KEYS`].
macro_rules! view_bases {
    () => {
        "SELECT d.refobjid FROM pg_catalog.pg_depend d
         JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid
         JOIN pg_catalog.pg_class v ON v.oid = r.ev_class
         JOIN pg_catalog.pg_namespace vn ON vn.oid = v.relnamespace
         WHERE d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass
           AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
           AND vn.nspname = ANY ($1::text[])"
    };
}

/// Tables, views, materialized views, foreign tables and partitioned tables
/// (not partitions), with their columns and primary keys; and whether they
/// are exposed (the others are tables of other schemas that exposed views show).
pub(crate) const RELATIONS: &str = concat!(
    r#"
SELECT n.nspname::text,
       c.relname::text,
       c.relkind::text,
       pg_catalog.obj_description(c.oid, 'pg_class'),
       c.relkind IN ('r', 'p') OR (pg_catalog.pg_relation_is_updatable(c.oid::regclass, false) & 8) = 8,
       c.relkind IN ('r', 'p') OR (pg_catalog.pg_relation_is_updatable(c.oid::regclass, false) & 4) = 4,
       c.relkind IN ('r', 'p') OR (pg_catalog.pg_relation_is_updatable(c.oid::regclass, false) & 16) = 16,
       coalesce((
         SELECT pg_catalog.json_agg(pg_catalog.json_build_object(
                  'name', a.attname,
                  'data_type', pg_catalog.format_type(a.atttypid, a.atttypmod),
                  -- A domain's base type, through domains over domains.
                  'base_type', CASE WHEN t.typtype = 'd' THEN (
                                 WITH RECURSIVE chain(oid, typmod, depth) AS (
                                   SELECT t.typbasetype, t.typtypmod, 1
                                   UNION ALL
                                   SELECT b.typbasetype, b.typtypmod, chain.depth + 1
                                   FROM chain JOIN pg_catalog.pg_type b ON b.oid = chain.oid
                                   WHERE b.typtype = 'd')
                                 SELECT pg_catalog.format_type(oid, typmod)
                                 FROM chain ORDER BY depth DESC LIMIT 1) END,
                  'nullable', NOT a.attnotnull,
                  'default', CASE WHEN a.attidentity = 'd'
                                  -- An identity's default is its sequence.
                                  THEN (SELECT pg_catalog.format('nextval(%L::regclass)', s.oid::pg_catalog.regclass::text)
                                        FROM pg_catalog.pg_depend dep
                                        JOIN pg_catalog.pg_class s ON s.oid = dep.objid AND s.relkind = 'S'
                                        WHERE dep.refobjid = c.oid AND dep.refobjsubid = a.attnum
                                          AND dep.deptype = 'i' LIMIT 1)
                                  -- A column's own default, else its domain's.
                                  WHEN a.attgenerated = ''
                                  THEN coalesce(pg_catalog.pg_get_expr(d.adbin, d.adrelid),
                                                pg_catalog.pg_get_expr(t.typdefaultbin, 0)) END)
                ORDER BY a.attnum)
         FROM pg_catalog.pg_attribute a
         JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
         LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
       ), '[]')::text,
       coalesce((
         SELECT pg_catalog.array_agg(a.attname::text ORDER BY k.ord)
         FROM pg_catalog.pg_constraint con,
              unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
         JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
         WHERE con.conrelid = c.oid AND con.contype = 'p'
       ), '{}'),
       coalesce((
         SELECT pg_catalog.json_agg(u.cols)
         FROM (SELECT pg_catalog.array_agg(a.attname::text ORDER BY k.ord) AS cols
               FROM pg_catalog.pg_constraint con,
                    unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
               JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
               WHERE con.conrelid = c.oid AND con.contype IN ('p', 'u')
               GROUP BY con.oid) AS u
       ), '[]')::text,
       CASE c.relkind
         WHEN 'p' THEN (SELECT coalesce(sum(p.relpages), 0)::int8
                        FROM pg_catalog.pg_partition_tree(c.oid) AS t
                        JOIN pg_catalog.pg_class p ON p.oid = t.relid)
         ELSE c.relpages::int8
       END * pg_catalog.current_setting('block_size')::int8,
       n.nspname = ANY ($1::text[])
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE (n.nspname = ANY ($1::text[])
       -- Tables of other schemas that exposed views show: their keys
       -- decide the views' relationships.
       OR (c.relkind IN ('r', 'p') AND c.oid IN (
         "#,
    view_bases!(),
    r#")))
  AND c.relkind IN ('r', 'v', 'm', 'f', 'p')
  AND NOT c.relispartition
ORDER BY n.nspname, c.relname
"#
);

/// Foreign keys (not the copies on partitions) whose either side is in an
/// exposed schema or is a table an exposed view shows: those between tables
/// of other schemas relate the exposed views over them.
pub(crate) const FOREIGN_KEYS: &str = concat!(
    r#"
WITH view_bases AS (
"#,
    view_bases!(),
    r#")
SELECT con.conname::text,
       ns.nspname::text, cl.relname::text,
       pg_catalog.array_agg(a.attname::text ORDER BY k.ord),
       fns.nspname::text, fcl.relname::text,
       pg_catalog.array_agg(fa.attname::text ORDER BY k.ord)
FROM pg_catalog.pg_constraint con
JOIN pg_catalog.pg_class cl ON cl.oid = con.conrelid
JOIN pg_catalog.pg_namespace ns ON ns.oid = cl.relnamespace
JOIN pg_catalog.pg_class fcl ON fcl.oid = con.confrelid
JOIN pg_catalog.pg_namespace fns ON fns.oid = fcl.relnamespace
CROSS JOIN LATERAL unnest(con.conkey, con.confkey) WITH ORDINALITY AS k(col, fcol, ord)
JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.col
JOIN pg_catalog.pg_attribute fa ON fa.attrelid = con.confrelid AND fa.attnum = k.fcol
WHERE con.contype = 'f' AND con.conparentid = 0
  AND (ns.nspname = ANY ($1::text[]) OR fns.nspname = ANY ($1::text[])
       OR con.conrelid IN (SELECT b.refobjid FROM view_bases b)
       OR con.confrelid IN (SELECT b.refobjid FROM view_bases b))
GROUP BY con.oid, con.conname, ns.nspname, cl.relname, fns.nspname, fcl.relname
ORDER BY ns.nspname, cl.relname, con.conname
"#
);

/// Where the columns of views come from: for each target entry of a view's
/// query, its name and the table column it projects (`resorigtbl`,
/// `resorigcol` in the rewrite rule's node tree). Entries of subqueries print
/// before the top-level ones, so the last entry of a name is the view's own.
pub(crate) const VIEW_COLUMNS: &str = r#"
SELECT vn.nspname::text, vc.relname::text, m[1], tn.nspname::text, tc.relname::text, ta.attname::text
FROM pg_catalog.pg_rewrite r
JOIN pg_catalog.pg_class vc ON vc.oid = r.ev_class
JOIN pg_catalog.pg_namespace vn ON vn.oid = vc.relnamespace
CROSS JOIN LATERAL pg_catalog.regexp_matches(r.ev_action::text,
  ':resname (\S+) :ressortgroupref \d+ :resorigtbl (\d+) :resorigcol (\d+)', 'g')
  WITH ORDINALITY AS x(m, ord)
JOIN pg_catalog.pg_class tc ON tc.oid = m[2]::oid
JOIN pg_catalog.pg_namespace tn ON tn.oid = tc.relnamespace
JOIN pg_catalog.pg_attribute ta ON ta.attrelid = tc.oid AND ta.attnum = m[3]::int2
WHERE vc.relkind IN ('v', 'm') AND r.rulename = '_RETURN' AND vn.nspname = ANY ($1::text[])
ORDER BY vn.nspname, vc.relname, x.ord
"#;

/// `statement_timeout` settings of roles (`ALTER ROLE … SET statement_timeout`),
/// for this database or all; this database's last, so they win.
pub(crate) const ROLE_TIMEOUTS: &str = r#"
SELECT r.rolname::text, substr(cfg, length('statement_timeout=') + 1)
FROM pg_catalog.pg_db_role_setting s
JOIN pg_catalog.pg_roles r ON r.oid = s.setrole
CROSS JOIN LATERAL unnest(s.setconfig) AS cfg
WHERE s.setdatabase IN (0, (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database()))
  AND cfg LIKE 'statement_timeout=%'
  AND $1::text[] IS NOT NULL
ORDER BY s.setdatabase
"#;

/// The time zones the database knows, for `Prefer: timezone`.
pub(crate) const TIMEZONES: &str =
    "SELECT name FROM pg_catalog.pg_timezone_names WHERE $1::text[] IS NOT NULL";

/// Plain functions (not procedures, aggregates, trigger or event trigger functions) of the exposed schemas.
pub(crate) const FUNCTIONS: &str = r#"
SELECT n.nspname::text,
       p.proname::text,
       p.provolatile::text,
       p.proretset,
       -- A domain over a row type returns that row type's rows.
       pg_catalog.format_type(CASE WHEN bt.typtype = 'c' THEN bt.oid ELSE p.prorettype END, NULL),
       coalesce(bt.typtype, t.typtype) = 'c'
         OR (t.oid = 'record'::regtype AND p.proallargtypes IS NOT NULL)
         -- One OUT (or INOUT, TABLE) parameter: still a row, named by it.
         OR coalesce('o' = ANY (p.proargmodes) OR 'b' = ANY (p.proargmodes)
                     OR 't' = ANY (p.proargmodes), false),
       p.pronargdefaults::int4,
       coalesce((
         SELECT pg_catalog.json_agg(pg_catalog.json_build_object(
                  'name', coalesce(x.name, ''),
                  'data_type', pg_catalog.format_type(x.type, NULL),
                  'mode', coalesce(x.mode, 'i'))
                ORDER BY x.ord)
         FROM unnest(coalesce(p.proallargtypes, p.proargtypes::oid[]),
                     p.proargnames,
                     p.proargmodes::text[]) WITH ORDINALITY AS x(type, name, mode, ord)
       ), '[]')::text,
       pg_catalog.obj_description(p.oid, 'pg_proc'),
       p.proretset AND p.prorows = 1
FROM pg_catalog.pg_proc p
JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
JOIN pg_catalog.pg_type t ON t.oid = p.prorettype
LEFT JOIN pg_catalog.pg_type bt ON bt.oid = t.typbasetype AND t.typtype = 'd'
WHERE n.nspname = ANY ($1::text[])
  AND p.prokind = 'f'
  AND p.prorettype NOT IN ('trigger'::regtype, 'event_trigger'::regtype)
ORDER BY n.nspname, p.proname, p.oid
"#;

/// Media-type handlers: domains named after a media type (or `*/*`) that an
/// aggregate of the exposed schemas over one relation's rows (or
/// `anyelement`) returns, or that a function of the exposed schemas returns
/// (not as a set). Columns: kind (`a`/`f`), the aggregate's schema and name,
/// the target's schema and name, the media type, and whether it is `bytea`.
pub(crate) const MEDIA_HANDLERS: &str = r#"
WITH media AS (
  SELECT t.oid, pg_catalog.lower(t.typname::text) AS media, t.typbasetype = 'bytea'::regtype AS bin
  FROM pg_catalog.pg_type t
  WHERE t.typtype = 'd'
    AND (t.typname ~ '^[A-Za-z0-9.-]+/[A-Za-z0-9.+-]+$' OR t.typname = '*/*')
)
SELECT 'a', pn.nspname::text, p.proname::text,
       CASE WHEN at.oid = 'anyelement'::regtype THEN NULL ELSE an.nspname::text END,
       CASE WHEN at.oid = 'anyelement'::regtype THEN NULL ELSE rel.relname::text END,
       m.media, m.bin
FROM media m
JOIN pg_catalog.pg_proc p ON p.prorettype = m.oid AND p.prokind = 'a' AND p.pronargs = 1
JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace
JOIN pg_catalog.pg_type at ON at.oid = p.proargtypes[0]
LEFT JOIN pg_catalog.pg_class rel ON rel.oid = at.typrelid
LEFT JOIN pg_catalog.pg_namespace an ON an.oid = rel.relnamespace
WHERE pn.nspname = ANY ($1::text[])
  AND (at.oid = 'anyelement'::regtype OR rel.relkind IN ('r', 'v', 'm', 'f', 'p'))
UNION ALL
SELECT 'f', NULL, NULL, pn.nspname::text, p.proname::text, m.media, m.bin
FROM media m
JOIN pg_catalog.pg_proc p ON p.prorettype = m.oid AND p.prokind = 'f' AND NOT p.proretset
JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace
WHERE pn.nspname = ANY ($1::text[])
"#;

/// Data representations, as PostgREST reads them: implicit casts done by a
/// function between a domain and `json` or `text` (the domain's JSON form
/// in answers, how it is read from JSON bodies and from text filters).
/// Columns: the source type and the target type, as `format_type` writes
/// them, and the function (qualified: the search path is empty). The
/// function is called by name: PostgreSQL ignores casts from domains.
pub(crate) const REPRESENTATIONS: &str = r#"
SELECT pg_catalog.format_type(c.castsource, NULL), pg_catalog.format_type(c.casttarget, NULL),
       c.castfunc::pg_catalog.regproc::text
FROM pg_catalog.pg_cast c
JOIN pg_catalog.pg_type s ON s.oid = c.castsource
JOIN pg_catalog.pg_type t ON t.oid = c.casttarget
WHERE c.castcontext = 'i' AND c.castmethod = 'f' AND $1::text[] IS NOT NULL
  AND pg_catalog.has_function_privilege(c.castfunc, 'execute')
  AND ((s.typtype = 'd' AND c.casttarget IN ('pg_catalog.json'::pg_catalog.regtype, 'pg_catalog.text'::pg_catalog.regtype))
    OR (t.typtype = 'd' AND c.castsource IN ('pg_catalog.json'::pg_catalog.regtype, 'pg_catalog.text'::pg_catalog.regtype)))
"#;

/// A digest of the relations and their columns, the functions and the keys
/// of the schemas in `$1`: what a snapshot is made of.
pub(crate) const FINGERPRINT: &str = "
SELECT pg_catalog.md5(coalesce(pg_catalog.string_agg(x, ',' ORDER BY x), '')) FROM (
  SELECT c.oid::text || c.relname || c.relkind::text || a.attname || a.atttypid::text
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  WHERE n.nspname = ANY ($1::text[]) AND c.relkind IN ('r', 'v', 'm', 'f', 'p')
  UNION ALL
  SELECT p.oid::text || p.proname || p.proargtypes::text || p.prorettype::text || p.provolatile::text
  FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
  WHERE n.nspname = ANY ($1::text[])
  UNION ALL
  SELECT k.oid::text || k.conname
  FROM pg_catalog.pg_constraint k JOIN pg_catalog.pg_namespace n ON n.oid = k.connamespace
  WHERE k.contype IN ('f', 'p', 'u') AND n.nspname = ANY ($1::text[])
) s(x)";

/// Whether the DDL event triggers that notify `pgrst` are installed and enabled.
pub(crate) const DDL_TRIGGERS: &str = "
SELECT pg_catalog.count(*) = 2 FROM pg_catalog.pg_event_trigger
WHERE evtname IN ('pgrst_ddl_watch', 'pgrst_drop_watch') AND evtenabled <> 'D'";

/// `LISTEN` on `channel`, quoted.
pub(crate) fn listen(channel: &str) -> String {
    let mut listen = String::from("LISTEN ");
    super::push_quoted(&mut listen, channel);
    listen
}
