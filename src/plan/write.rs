//! Planning writes: POST (insert, upsert), PUT, PATCH and DELETE.

use super::{Conditions, ReadPlan, plan_condition, plan_shape};
use crate::config::Config;
use crate::error::{Error, ErrorKind, codes};
use crate::request::{
    Action, ApiRequest, CompareOp, Condition, Operation, Payload, Resolution, Return, Shape, TxEnd,
};
use crate::schema::{Column, Table};

/// What a write does to its table.
#[derive(Clone, Debug)]
pub(crate) enum WriteKind<'r> {
    /// `INSERT … SELECT … FROM json_populate_record[set]($1)`, maybe `ON CONFLICT`.
    Insert {
        columns: Vec<&'r str>,
        conflict: Option<(Vec<&'r str>, Resolution)>,
        /// PUT: the primary key values of the URL, which the body must carry.
        put_key: Vec<(&'r str, &'r str)>,
    },
    /// `UPDATE … SET` the payload's columns `WHERE` the conditions; with a
    /// `key` (a JSON array body: bulk PATCH by primary key, beyond PostgREST),
    /// each row takes the values of the element whose key columns it matches.
    Update {
        columns: Vec<&'r str>,
        conditions: Conditions<'r>,
        key: Vec<&'r str>,
    },
    /// `DELETE … WHERE` the conditions.
    Delete { conditions: Conditions<'r> },
}

/// A planned write. `shape` says how the affected rows are represented in the
/// body (its `select`, `order` and media type); its conditions are empty.
#[derive(Clone, Debug)]
pub(crate) struct WritePlan<'r> {
    pub(crate) kind: WriteKind<'r>,
    pub(crate) payload: Option<&'r Payload>,
    /// `missing=default`: columns of the payload that have a default.
    pub(crate) defaults: Vec<&'r Column>,
    pub(crate) shape: ReadPlan<'r>,
    pub(crate) return_: Return,
    /// The preferences honoured, for `Preference-Applied`.
    pub(crate) applied: Vec<String>,
    /// `handling=strict` with `max-affected=N`.
    pub(crate) max_affected: Option<i64>,
    pub(crate) tx_end: TxEnd,
    pub(crate) count: Option<crate::request::Count>,
}

impl WritePlan<'_> {
    pub(crate) fn table(&self) -> &Table {
        self.shape.table
    }
}

/// What a write's preferences decide beyond its kind.
pub(super) struct WritePrefs {
    pub(super) return_: Return,
    pub(super) max_affected: Option<i64>,
    pub(super) tx_end: TxEnd,
}

/// `return=`, `count=`, `handling=strict` with `max-affected`, and `tx=`:
/// what they decide, each applied one pushed to `applied` in PostgREST's order.
pub(super) fn write_prefs(
    req: &ApiRequest,
    config: &Config,
    applied: &mut Vec<String>,
) -> WritePrefs {
    let return_ = return_and_count(req, applied);
    WritePrefs {
        return_,
        ..strict_and_tx(req, config, applied)
    }
}

/// `return=` and `count=`: the return asked for (or the default).
fn return_and_count(req: &ApiRequest, applied: &mut Vec<String>) -> Return {
    let prefs = &req.prefs;
    if let Some(r) = prefs.return_ {
        applied.push(r.as_str().into());
    }
    if let Some(c) = prefs.count {
        applied.push(c.as_str().into());
    }
    prefs.return_.unwrap_or_default()
}

/// `Prefer: tx=`, honoured when the service allows it (and then applied).
pub(super) fn tx_end(req: &ApiRequest, config: &Config, applied: &mut Vec<String>) -> TxEnd {
    match req.prefs.tx {
        Some(tx) if config.tx_override => {
            applied.push(tx.as_str().into());
            tx
        }
        _ => config.tx_default(),
    }
}

/// `handling=strict` with `max-affected` (PATCH and DELETE only), and `tx=`.
fn strict_and_tx(req: &ApiRequest, config: &Config, applied: &mut Vec<String>) -> WritePrefs {
    let prefs = &req.prefs;
    let mut max_affected = None;
    if prefs.lenient {
        applied.push("handling=lenient".into());
    }
    if prefs.strict {
        applied.push("handling=strict".into());
        if let Some(n) = prefs.max_affected {
            if matches!(req.action, Action::Update | Action::Delete) {
                max_affected = Some(n);
                applied.push(format!("max-affected={n}"));
            }
        }
    }
    let tx_end = tx_end(req, config, applied);
    WritePrefs {
        return_: prefs.return_.unwrap_or_default(),
        max_affected,
        tx_end,
    }
}

fn missing_column(table: &Table, column: &str) -> Error {
    Error::pgrst(
        codes::PGRST204,
        format!(
            "Could not find the '{column}' column of '{}' in the schema cache",
            table.name
        ),
    )
}

/// The representation of a write: the request's read shape of every row
/// written, with no paging.
pub(super) fn write_shape<'r>(
    req: &'r ApiRequest,
    table: &'r Table,
    schema: &'r crate::schema::Schema,
    config: &Config,
) -> Result<ReadPlan<'r>, Error> {
    let mut shape = plan_shape(req, table, schema, config, None)?;
    // Root filters select the rows a PATCH or DELETE changes; the representation is those rows.
    shape.conditions.clear();
    shape.limit = None;
    shape.offset = 0;
    shape.count = None;
    shape.max_rows = None;
    Ok(shape)
}

/// Plans a write on `table`.
pub(crate) fn plan_write<'r>(
    req: &'r ApiRequest,
    table: &'r Table,
    schema: &'r crate::schema::Schema,
    config: &Config,
) -> Result<WritePlan<'r>, Error> {
    let shape = write_shape(req, table, schema, config)?;
    let prefs = &req.prefs;
    let mut applied: Vec<String> = Vec::new();
    let return_ = return_and_count(req, &mut applied);

    let payload = req.payload.as_ref();
    let payload_columns = || payload_columns(req, table);

    let kind = match req.action {
        Action::Insert => plan_insert(req, table, payload_columns()?, &mut applied)?,
        Action::Upsert => plan_put(req, table, payload_columns()?)?,
        Action::Update => {
            let columns = payload_columns()?;
            match payload.filter(|p| bulk_update(p, table, &columns)) {
                Some(body) => plan_bulk_update(req, table, body, columns)?,
                None => WriteKind::Update {
                    columns,
                    conditions: mutation_conditions(req, table, config)?,
                    key: Vec::new(),
                },
            }
        }
        Action::Delete => WriteKind::Delete {
            conditions: mutation_conditions(req, table, config)?,
        },
        other => {
            return Err(Error::new(
                ErrorKind::Internal,
                format!("{} is not a write", other.verb()),
            ));
        }
    };

    let mut defaults = Vec::new();
    if prefs.missing_default && matches!(req.action, Action::Insert | Action::Update) {
        applied.push("missing=default".into());
        if let WriteKind::Insert { columns, .. } | WriteKind::Update { columns, .. } = &kind {
            for name in columns {
                if let Some(column) = table.column(name).filter(|c| c.default.is_some()) {
                    defaults.push(column);
                }
            }
        }
    }
    let WritePrefs {
        max_affected,
        tx_end,
        ..
    } = strict_and_tx(req, config, &mut applied);
    if req.action.has_body() && payload.is_none() {
        return Err(Error::pgrst(codes::PGRST102, "Empty or invalid json"));
    }
    Ok(WritePlan {
        kind,
        payload,
        defaults,
        shape,
        return_,
        applied,
        max_affected,
        tx_end,
        count: prefs.count,
    })
}

/// The columns a write takes: `columns=`, or the body's keys; each must be a column.
fn payload_columns<'r>(req: &'r ApiRequest, table: &Table) -> Result<Vec<&'r str>, Error> {
    let names: Vec<&'r str> = match (&req.columns, &req.payload) {
        (Some(cols), _) => cols.iter().map(String::as_str).collect(),
        (None, Some(p)) => p.keys.iter().map(String::as_str).collect(),
        (None, None) => Vec::new(),
    };
    if let Some(name) = names.iter().find(|name| table.column(name).is_none()) {
        return Err(missing_column(table, name));
    }
    Ok(names)
}

/// POST: an insert, or an upsert on `on_conflict` (default: the primary key)
/// when `Prefer: resolution=…` asks for one.
fn plan_insert<'r>(
    req: &'r ApiRequest,
    table: &'r Table,
    columns: Vec<&'r str>,
    applied: &mut Vec<String>,
) -> Result<WriteKind<'r>, Error> {
    let conflict_target: Option<Vec<&'r str>> = match &req.on_conflict {
        Some(cols) => {
            for c in cols {
                if table.column(c).is_none() {
                    return Err(missing_column(table, c));
                }
            }
            Some(cols.iter().map(String::as_str).collect())
        }
        None if !table.primary_key.is_empty() => {
            Some(table.primary_key.iter().map(String::as_str).collect())
        }
        None => None,
    };
    let conflict = match (req.prefs.resolution, conflict_target) {
        (Some(resolution), Some(target)) => {
            applied.push(resolution.as_str().into());
            Some((target, resolution))
        }
        _ => None,
    };
    Ok(WriteKind::Insert {
        columns,
        conflict,
        put_key: Vec::new(),
    })
}

/// The conditions of a PATCH or DELETE; with `require_filter`, at least one.
fn mutation_conditions<'r>(
    req: &'r ApiRequest,
    table: &'r Table,
    config: &Config,
) -> Result<Conditions<'r>, Error> {
    if config.require_filter && req.conditions.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidRequest,
            format!("{} requires a filter", req.action.verb()),
        )
        .with_hint(format!(
            "Add a filter such as ?id=eq.1; to affect every row of '{}', filter on a condition every row meets",
            table.name
        )));
    }
    Ok(req
        .conditions
        .iter()
        .map(|c| plan_condition(c, table))
        .collect())
}

/// Whether a PATCH body is a bulk update by primary key: an array whose
/// elements carry the whole key, or of more than one element (which then
/// must). An array of one element without the key (or of none) is that
/// object (nothing), as PostgREST reads it.
fn bulk_update(body: &crate::request::Payload, table: &Table, columns: &[&str]) -> bool {
    let keyed = !table.primary_key.is_empty()
        && table
            .primary_key
            .iter()
            .all(|k| columns.contains(&k.as_str()));
    body.shape == crate::request::Shape::Array && (keyed || body.rows > 1)
}

/// A PATCH of a JSON array: each element names its row by the primary key
/// and sets the rest of its values (`UPDATE … FROM` the elements `WHERE` the
/// keys match, the request's filters on top). Every element has the same
/// keys (the body parser checks), so one that lacks a key column means all do.
fn plan_bulk_update<'r>(
    req: &'r ApiRequest,
    table: &'r Table,
    body: &crate::request::Payload,
    columns: Vec<&'r str>,
) -> Result<WriteKind<'r>, Error> {
    if table.primary_key.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidRequest,
            format!(
                "A PATCH of an array needs a primary key, and '{}' has none",
                table.name
            ),
        )
        .with_hint("Send one object, and filters for the rows it changes"));
    }
    if body.rows > 0 || !body.keys.is_empty() {
        if let Some(missing) = table
            .primary_key
            .iter()
            .find(|k| !columns.iter().any(|c| c == k))
        {
            return Err(Error::new(
                ErrorKind::InvalidRequest,
                format!("Element 0 of the PATCH body has no value for the key column '{missing}'"),
            )
            .with_details(format!(
                "A PATCH of an array updates each row of '{}' named by its primary key ({})",
                table.name,
                table.primary_key.join(", ")
            ))
            .with_hint("Give every element the primary key of the row it changes"));
        }
    }
    let key: Vec<&'r str> = table.primary_key.iter().map(String::as_str).collect();
    Ok(WriteKind::Update {
        columns: columns.into_iter().filter(|c| !key.contains(c)).collect(),
        conditions: req
            .conditions
            .iter()
            .map(|c| plan_condition(c, table))
            .collect(),
        key,
    })
}

/// `PUT /t?pk=eq.v`: the filters are exactly the primary key, with `eq`.
fn plan_put<'r>(
    req: &'r ApiRequest,
    table: &'r Table,
    columns: Vec<&'r str>,
) -> Result<WriteKind<'r>, Error> {
    let invalid = || {
        Error::pgrst(
            codes::PGRST105,
            "Filters must include all and only primary key columns with 'eq' operators",
        )
    };
    if req.limit.is_some() || req.offset.is_some() {
        return Err(Error::pgrst(
            codes::PGRST114,
            "limit/offset querystring parameters are not allowed for PUT",
        ));
    }
    if table.primary_key.is_empty() {
        return Err(invalid());
    }
    let mut put_key = Vec::new();
    for c in &req.conditions {
        match c {
            Condition::Filter(f)
                if !f.negated
                    && f.field.json_path.is_empty()
                    && table.primary_key.iter().any(|k| *k == f.field.name) =>
            {
                match &f.operation {
                    Operation::Compare {
                        op: CompareOp::Eq,
                        quantifier: None,
                        value,
                    } => put_key.push((f.field.name.as_str(), value.as_str())),
                    _ => return Err(invalid()),
                }
            }
            _ => return Err(invalid()),
        }
    }
    let mut named: Vec<&str> = put_key.iter().map(|(k, _)| *k).collect();
    named.sort_unstable();
    named.dedup();
    if named.len() != put_key.len() || named.len() != table.primary_key.len() {
        return Err(invalid());
    }
    if let Some(p) = &req.payload {
        if p.shape == Shape::Array && p.rows != 1 {
            return Err(Error::pgrst(
                codes::PGRST102,
                "PUT takes a single object, or an array of exactly one",
            ));
        }
    }
    let conflict: Vec<&'r str> = table.primary_key.iter().map(String::as_str).collect();
    Ok(WriteKind::Insert {
        columns,
        conflict: Some((conflict, Resolution::MergeDuplicates)),
        put_key,
    })
}

#[cfg(test)]
mod tests {
    use http::Method;

    use super::super::PlannedCondition;
    use super::super::testing::{config_of, plan_of, plan_with, req, request, write};
    use super::*;
    use crate::config::Settings;
    use crate::plan::Tx;
    use crate::request::Count;

    fn put(target: &str, body: &str) -> Result<(), Error> {
        let r = req(Method::PUT, target, &[], Some(body));
        plan_of(&r).map(|_| ())
    }

    /// An insert's columns, conflict target and PUT key.
    type InsertParts<'p, 'r> = (
        &'p [&'r str],
        &'p Option<(Vec<&'r str>, Resolution)>,
        &'p [(&'r str, &'r str)],
    );

    fn insert_parts<'p, 'r>(w: &'p WritePlan<'r>) -> InsertParts<'p, 'r> {
        match &w.kind {
            WriteKind::Insert {
                columns,
                conflict,
                put_key,
            } => (columns, conflict, put_key),
            other => panic!("not an insert: {other:?}"),
        }
    }

    fn condition_columns(conditions: &[PlannedCondition<'_>]) -> Vec<(String, Option<String>)> {
        conditions
            .iter()
            .map(|c| match c {
                PlannedCondition::Filter(f) => (
                    f.filter.field.name.to_string(),
                    f.column_type.map(str::to_owned),
                ),
                other => panic!("not a filter: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn an_insert_takes_its_columns_from_the_body_keys() {
        let r = req(
            Method::POST,
            "/items",
            &[],
            Some(r#"{"id": 1, "name": "a", "price": 2}"#),
        );
        let plan = plan_of(&r).unwrap();
        let w = write(&plan);
        assert_eq!(w.table().name, "items");
        let (columns, conflict, put_key) = insert_parts(w);
        assert_eq!(columns, ["id", "name", "price"]);
        assert_eq!(conflict, &None);
        assert!(put_key.is_empty());
        assert_eq!(w.payload.map(|p| p.rows), Some(1));
        assert_eq!(w.return_, Return::Minimal);
        assert!(w.applied.is_empty());
        assert!(w.defaults.is_empty());
        assert_eq!(w.max_affected, None);
        assert_eq!(
            plan.tx,
            Tx {
                read_only: false,
                end: TxEnd::Commit
            }
        );
        assert_eq!(plan.checks, super::super::Checks::default());
        assert!(!plan.decides_commit());
    }

    #[test]
    fn columns_names_the_columns_and_ignores_the_other_keys() {
        let r = req(
            Method::POST,
            "/items?columns=id,name",
            &[],
            Some(r#"[{"id": 1, "name": "a", "other": true}]"#),
        );
        let plan = plan_of(&r).unwrap();
        let (columns, _, _) = insert_parts(write(&plan));
        assert_eq!(columns, ["id", "name"]);
    }

    #[test]
    fn an_unknown_column_is_pgrst204() {
        for (target, body, column) in [
            ("/items", r#"{"id": 1, "nope": 2}"#, "nope"),
            ("/items?columns=id,missing", r#"{"id": 1}"#, "missing"),
            ("/items?on_conflict=nada", r#"{"id": 1}"#, "nada"),
        ] {
            let r = req(Method::POST, target, &[], Some(body));
            let err = plan_of(&r).unwrap_err();
            assert_eq!(err.postgrest_code(), "PGRST204", "{target}");
            assert_eq!(
                err.message(),
                format!("Could not find the '{column}' column of 'items' in the schema cache"),
                "{target}"
            );
        }
        let r = req(
            Method::PATCH,
            "/reviews?id=eq.1",
            &[],
            Some(r#"{"bogus": 1}"#),
        );
        let err = plan_of(&r).unwrap_err();
        assert_eq!(err.postgrest_code(), "PGRST204");
        assert_eq!(
            err.message(),
            "Could not find the 'bogus' column of 'reviews' in the schema cache"
        );
    }

    #[test]
    fn a_resolution_preference_makes_an_upsert_on_the_key_or_on_conflict() {
        let body = Some(r#"{"id": 1, "name": "a"}"#);
        let merge = [("prefer", "resolution=merge-duplicates")];
        let ignore = [("prefer", "resolution=ignore-duplicates")];

        let r = req(Method::POST, "/items", &merge, body);
        let plan = plan_of(&r).unwrap();
        let w = write(&plan);
        assert_eq!(
            insert_parts(w).1,
            &Some((vec!["id"], Resolution::MergeDuplicates))
        );
        assert_eq!(w.applied, ["resolution=merge-duplicates"]);

        let r = req(Method::POST, "/items?on_conflict=name", &ignore, body);
        let plan = plan_of(&r).unwrap();
        let w = write(&plan);
        assert_eq!(
            insert_parts(w).1,
            &Some((vec!["name"], Resolution::IgnoreDuplicates))
        );
        assert_eq!(w.applied, ["resolution=ignore-duplicates"]);

        let r = req(
            Method::POST,
            "/item_topics",
            &merge,
            Some(r#"{"item_id": 1, "topic_id": 2}"#),
        );
        let plan = plan_of(&r).unwrap();
        assert_eq!(
            insert_parts(write(&plan)).1,
            &Some((vec!["item_id", "topic_id"], Resolution::MergeDuplicates))
        );

        // on_conflict alone is no upsert.
        let r = req(Method::POST, "/items?on_conflict=name", &[], body);
        let plan = plan_of(&r).unwrap();
        assert_eq!(insert_parts(write(&plan)).1, &None);
        // A view has its table's key (PostgREST infers it): it upserts on it.
        let r = req(Method::POST, "/cheap_items", &merge, body);
        let plan = plan_of(&r).unwrap();
        let w = write(&plan);
        assert_eq!(
            insert_parts(w).1,
            &Some((vec!["id"], Resolution::MergeDuplicates))
        );
    }

    #[test]
    fn put_names_the_whole_primary_key_with_eq() {
        let r = req(
            Method::PUT,
            "/items?id=eq.7",
            &[],
            Some(r#"{"id": 7, "name": "seven"}"#),
        );
        let plan = plan_of(&r).unwrap();
        let (columns, conflict, put_key) = insert_parts(write(&plan));
        assert_eq!(columns, ["id", "name"]);
        assert_eq!(conflict, &Some((vec!["id"], Resolution::MergeDuplicates)));
        assert_eq!(put_key, [("id", "7")]);
        assert!(plan.checks.put_key);
        assert!(!plan.checks.singular);
        // Checked on the result alone: it fails only when nothing was written.
        assert!(!plan.decides_commit());

        let r = req(
            Method::PUT,
            "/item_topics?topic_id=eq.2&item_id=eq.1",
            &[],
            Some(r#"[{"item_id": 1, "topic_id": 2}]"#),
        );
        let plan = plan_of(&r).unwrap();
        assert_eq!(
            insert_parts(write(&plan)).2,
            [("topic_id", "2"), ("item_id", "1")]
        );
    }

    #[test]
    fn put_with_other_filters_is_pgrst105() {
        let body = r#"{"id": 1, "name": "a"}"#;
        for target in [
            "/items",
            "/items?id=gt.1",
            "/items?id=not.eq.1",
            "/items?id=in.(1,2)",
            "/items?name=eq.a",
            "/items?id=eq.1&name=eq.a",
            "/items?id=eq.1&id=eq.2",
            "/items?or=(id.eq.1)",
            "/item_topics?item_id=eq.1",
        ] {
            let body = if target.starts_with("/item_topics") {
                r#"{"item_id": 1, "topic_id": 2}"#
            } else {
                body
            };
            let err = put(target, body).unwrap_err();
            assert_eq!(err.postgrest_code(), "PGRST105", "{target}");
            assert_eq!(
                err.status(),
                http::StatusCode::METHOD_NOT_ALLOWED,
                "{target}"
            );
            assert_eq!(
                err.message(),
                "Filters must include all and only primary key columns with 'eq' operators",
                "{target}"
            );
        }
    }

    #[test]
    fn put_refuses_paging_and_more_than_one_row() {
        for target in ["/items?id=eq.1&limit=1", "/items?id=eq.1&offset=1"] {
            let err = put(target, r#"{"id": 1, "name": "a"}"#).unwrap_err();
            assert_eq!(err.postgrest_code(), "PGRST114", "{target}");
            assert_eq!(
                err.message(),
                "limit/offset querystring parameters are not allowed for PUT"
            );
        }
        let err = put(
            "/items?id=eq.1",
            r#"[{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]"#,
        )
        .unwrap_err();
        assert_eq!(err.postgrest_code(), "PGRST102");
        assert_eq!(
            err.message(),
            "PUT takes a single object, or an array of exactly one"
        );
        assert_eq!(
            put("/items?id=eq.1", r#"[{"id": 1, "name": "a"}]"#).ok(),
            Some(())
        );
    }

    #[test]
    #[ignore = "bug: with columns= the body is not inspected (rows = 0), so PUT refuses a one-element array"]
    fn put_with_columns_takes_a_one_element_array() {
        put(
            "/items?id=eq.1&columns=id,name",
            r#"[{"id": 1, "name": "a"}]"#,
        )
        .unwrap();
    }

    #[test]
    fn patch_and_delete_change_the_rows_the_filters_select() {
        let r = req(
            Method::PATCH,
            "/items?id=eq.1&select=id,authors(name)",
            &[("prefer", "return=representation")],
            Some(r#"{"name": "b", "qty": 2}"#),
        );
        let plan = plan_of(&r).unwrap();
        let w = write(&plan);
        let WriteKind::Update {
            columns,
            conditions,
            key,
        } = &w.kind
        else {
            panic!("an update: {:?}", w.kind)
        };
        assert_eq!(columns, &["name", "qty"]);
        assert!(key.is_empty(), "one object: no bulk key");
        assert_eq!(
            condition_columns(conditions),
            [("id".to_owned(), Some("integer".to_owned()))]
        );
        // The filters are the write's; the representation is of the changed rows.
        assert!(w.shape.conditions.is_empty());
        assert_eq!(w.shape.embeds.len(), 1);
        assert_eq!(w.shape.embeds[0].rel.foreign_table, "authors");
        assert_eq!(w.return_, Return::Representation);
        assert_eq!(w.applied, ["return=representation"]);

        let r = req(Method::DELETE, "/reviews?id=gt.1&body=eq.x", &[], None);
        let plan = plan_of(&r).unwrap();
        let w = write(&plan);
        let WriteKind::Delete { conditions } = &w.kind else {
            panic!("a delete: {:?}", w.kind)
        };
        assert_eq!(
            condition_columns(conditions),
            [
                ("id".to_owned(), Some("integer".to_owned())),
                ("body".to_owned(), Some("text".to_owned()))
            ]
        );
        assert!(w.payload.is_none());
        assert!(!plan.tx.read_only);
        // Without require_filter, no filter is every row.
        let r = req(Method::DELETE, "/reviews", &[], None);
        let plan = plan_of(&r).unwrap();
        let WriteKind::Delete { conditions } = &write(&plan).kind else {
            panic!("a delete")
        };
        assert!(conditions.is_empty());
    }

    #[test]
    fn require_filter_refuses_unfiltered_patch_and_delete() {
        let config = config_of(Settings {
            require_filter: true,
            ..Settings::default()
        });
        let body = Some(r#"{"name": "x"}"#);
        for (method, verb) in [(Method::PATCH, "PATCH"), (Method::DELETE, "DELETE")] {
            let b = if method == Method::PATCH { body } else { None };
            let r = req(method.clone(), "/items", &[], b);
            let err = plan_with(&r, &config).unwrap_err();
            assert_eq!(err.message(), format!("{verb} requires a filter"));
            assert_eq!(err.status(), http::StatusCode::UNPROCESSABLE_ENTITY);
            assert_eq!(
                err.hint(),
                Some(
                    "Add a filter such as ?id=eq.1; to affect every row of 'items', filter on a condition every row meets"
                )
            );
            let r = req(method, "/items?id=eq.1", &[], b);
            assert!(matches!(
                write(&plan_with(&r, &config).unwrap()).kind,
                WriteKind::Update { .. } | WriteKind::Delete { .. }
            ));
        }
        // An insert has no filter to require.
        let r = req(
            Method::POST,
            "/items",
            &[],
            Some(r#"{"id": 1, "name": "x"}"#),
        );
        let plan = plan_with(&r, &config).unwrap();
        assert_eq!(insert_parts(write(&plan)).0, ["id", "name"]);
    }

    #[test]
    fn missing_default_lists_the_payload_columns_that_have_a_default() {
        let body = Some(r#"{"id": 1, "item_id": 1, "body": "x", "approved": true}"#);
        let prefer = [("prefer", "missing=default")];
        let r = req(Method::POST, "/reviews", &prefer, body);
        let plan = plan_of(&r).unwrap();
        let w = write(&plan);
        let defaults: Vec<(&str, Option<&str>)> = w
            .defaults
            .iter()
            .map(|c| (c.name.as_str(), c.default.as_deref()))
            .collect();
        assert_eq!(defaults, [("approved", Some("false"))]);
        assert_eq!(w.applied, ["missing=default"]);

        let r = req(
            Method::PATCH,
            "/reviews?id=eq.1",
            &prefer,
            Some(r#"{"approved": true}"#),
        );
        let plan = plan_of(&r).unwrap();
        assert_eq!(write(&plan).defaults.len(), 1);

        let r = req(Method::POST, "/reviews", &[], body);
        let plan = plan_of(&r).unwrap();
        assert!(write(&plan).defaults.is_empty());
        assert!(write(&plan).applied.is_empty());
        // Not a preference DELETE honours.
        let r = req(Method::DELETE, "/reviews?id=eq.1", &prefer, None);
        let plan = plan_of(&r).unwrap();
        assert!(write(&plan).applied.is_empty());
    }

    #[test]
    fn strict_max_affected_is_checked_before_commit_for_patch_and_delete() {
        let prefer = [("prefer", "handling=strict, max-affected=3")];
        let r = req(
            Method::PATCH,
            "/items?id=gt.0",
            &prefer,
            Some(r#"{"qty": 1}"#),
        );
        let plan = plan_of(&r).unwrap();
        assert_eq!(plan.checks.max_affected, Some(3));
        assert!(plan.decides_commit());
        assert_eq!(write(&plan).applied, ["handling=strict", "max-affected=3"]);

        let r = req(Method::DELETE, "/items?id=gt.0", &prefer, None);
        let plan = plan_of(&r).unwrap();
        assert_eq!(plan.checks.max_affected, Some(3));
        assert!(plan.decides_commit());

        // Lenient: max-affected is not applied.
        let r = req(
            Method::DELETE,
            "/items?id=gt.0",
            &[("prefer", "max-affected=3")],
            None,
        );
        let plan = plan_of(&r).unwrap();
        assert_eq!(plan.checks.max_affected, None);
        assert!(!plan.decides_commit());
        assert!(write(&plan).applied.is_empty());

        // An insert takes handling=strict but not max-affected.
        let r = req(
            Method::POST,
            "/items",
            &prefer,
            Some(r#"{"id": 1, "name": "a"}"#),
        );
        let plan = plan_of(&r).unwrap();
        assert_eq!(plan.checks.max_affected, None);
        assert_eq!(write(&plan).applied, ["handling=strict"]);
    }

    #[test]
    fn a_singular_write_decides_its_commit() {
        let r = req(
            Method::PATCH,
            "/items?id=eq.1",
            &[("accept", "application/vnd.pgrst.object+json")],
            Some(r#"{"qty": 1}"#),
        );
        let plan = plan_of(&r).unwrap();
        assert!(plan.checks.singular);
        assert!(plan.decides_commit());
    }

    #[test]
    fn tx_rollback_is_honoured_only_when_allowed() {
        let prefer = [("prefer", "tx=rollback")];
        let body = Some(r#"{"id": 1, "name": "a"}"#);
        let r = req(Method::POST, "/items", &prefer, body);
        let plan = plan_of(&r).unwrap();
        assert_eq!(plan.tx.end, TxEnd::Commit);
        assert!(write(&plan).applied.is_empty());

        let config = config_of(Settings {
            tx_override: true,
            ..Settings::default()
        });
        let plan = plan_with(&r, &config).unwrap();
        assert_eq!(plan.tx.end, TxEnd::Rollback);
        assert!(!plan.tx.read_only);
        assert_eq!(write(&plan).applied, ["tx=rollback"]);
        let r = req(
            Method::DELETE,
            "/items?id=eq.1",
            &[("prefer", "tx=commit")],
            None,
        );
        let plan = plan_with(&r, &config).unwrap();
        assert_eq!(plan.tx.end, TxEnd::Commit);
        assert_eq!(write(&plan).applied, ["tx=commit"]);

        // db-tx-end = rollback: every write rolls back unless it may say otherwise.
        let rollback = config_of(Settings {
            tx_rollback: true,
            ..Settings::default()
        });
        let r = req(Method::POST, "/items", &[], body);
        let plan = plan_with(&r, &rollback).unwrap();
        assert_eq!(plan.tx.end, TxEnd::Rollback);
        assert!(write(&plan).applied.is_empty());
        let r = req(Method::POST, "/items", &[("prefer", "tx=commit")], body);
        assert_eq!(plan_with(&r, &rollback).unwrap().tx.end, TxEnd::Rollback);
        let overridable = config_of(Settings {
            tx_rollback: true,
            tx_override: true,
            ..Settings::default()
        });
        assert_eq!(plan_with(&r, &overridable).unwrap().tx.end, TxEnd::Commit);
    }

    #[test]
    fn preference_applied_lists_what_was_honoured_in_order() {
        let config = config_of(Settings {
            tx_override: true,
            ..Settings::default()
        });
        let r = req(
            Method::POST,
            "/reviews",
            &[(
                "prefer",
                "tx=rollback, missing=default, resolution=merge-duplicates, count=exact, return=representation, handling=strict",
            )],
            Some(r#"{"id": 1, "item_id": 1, "body": "x"}"#),
        );
        let plan = plan_with(&r, &config).unwrap();
        let w = write(&plan);
        assert_eq!(
            w.applied,
            [
                "return=representation",
                "count=exact",
                "resolution=merge-duplicates",
                "missing=default",
                "handling=strict",
                "tx=rollback",
            ]
        );
        assert_eq!(w.count, Some(Count::Exact));
        assert_eq!(w.return_, Return::Representation);
    }

    #[test]
    fn a_write_without_a_body_is_pgrst102() {
        for method in [Method::POST, Method::PATCH, Method::PUT] {
            let r = req(method.clone(), "/items?id=eq.1", &[], None);
            let err = plan_of(&r).unwrap_err();
            assert_eq!(err.postgrest_code(), "PGRST102", "{method}");
            assert_eq!(err.message(), "Empty or invalid json", "{method}");
        }
        // An empty body is refused as it is parsed.
        let err = request(Method::POST, "/items", &[], Some("  ")).unwrap_err();
        assert_eq!(err.postgrest_code(), "PGRST102");
    }

    #[test]
    fn the_representation_of_a_write_is_not_paged() {
        let config = config_of(Settings {
            limits: crate::config::Limits::default().max_rows(Some(2)),
            ..Settings::default()
        });
        let r = req(
            Method::POST,
            "/items?select=id,name&limit=5&offset=3&order=id",
            &[("prefer", "return=representation, count=exact")],
            Some(r#"[{"id": 1, "name": "a"}, {"id": 2, "name": "b"}, {"id": 3, "name": "c"}]"#),
        );
        let plan = plan_with(&r, &config).unwrap();
        let shape = &write(&plan).shape;
        assert_eq!(shape.table.name, "items");
        assert_eq!(shape.select.len(), 2);
        assert_eq!(shape.order.len(), 1);
        assert_eq!(shape.limit, None);
        assert_eq!(shape.offset, 0);
        assert_eq!(shape.count, None);
        assert_eq!(shape.max_rows, None);
        assert!(!shape.total_needs_query());
        // The count preference is the write's own.
        assert_eq!(write(&plan).count, Some(Count::Exact));
    }
}
