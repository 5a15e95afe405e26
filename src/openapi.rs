//! The OpenAPI 3.1 description of the API, served at the root (`GET /`).
//!
//! Built from the schema snapshot: the tables and views of the schema
//! (columns, types, keys, comments) and its functions. By default only those
//! the request's role may use, with only the methods its privileges allow
//! (PostgREST's `openapi-mode = follow-privileges`); everything with
//! [`OpenApiMode::IgnorePrivileges`](crate::OpenApiMode::IgnorePrivileges).
//! PostgREST serves Swagger 2.0; this is OpenAPI 3.1, which its users have
//! long asked for.

use serde_json::{Map, Value, json};

use crate::plan::{Allow, Privileges};
use crate::schema::{Column, Function, Schema, Table, TableKind, Volatility};

/// The JSON Schema of a PostgreSQL type (as `format_type` writes it).
fn type_schema(data_type: &str) -> Value {
    if let Some(element) = data_type.strip_suffix("[]") {
        return json!({"type": "array", "items": type_schema(element)});
    }
    let base = data_type.split('(').next().unwrap_or(data_type).trim();
    match base {
        "smallint" | "integer" => json!({"type": "integer", "format": "int32"}),
        "bigint" => json!({"type": "integer", "format": "int64"}),
        "numeric" | "decimal" => json!({"type": "number"}),
        "real" => json!({"type": "number", "format": "float"}),
        "double precision" => json!({"type": "number", "format": "double"}),
        "boolean" => json!({"type": "boolean"}),
        "json" | "jsonb" => json!({}),
        "uuid" => json!({"type": "string", "format": "uuid"}),
        "date" => json!({"type": "string", "format": "date"}),
        "timestamp with time zone" | "timestamp without time zone" => {
            json!({"type": "string", "format": "date-time"})
        }
        "time with time zone" | "time without time zone" => {
            json!({"type": "string", "format": "time"})
        }
        _ => json!({"type": "string"}),
    }
}

/// A column's schema: its type, nullable, with the column's comment-free notes.
fn column_schema(table: &Table, column: &Column) -> Value {
    let mut schema = type_schema(column.resolved_type());
    if let Value::Object(map) = &mut schema {
        if column.nullable {
            if let Some(Value::String(t)) = map.get("type").cloned() {
                map.insert("type".into(), json!([t, "null"]));
            }
        }
        let mut notes = Vec::new();
        if table.primary_key.contains(&column.name) {
            notes.push("Primary key.".to_owned());
        }
        if let Some(default) = &column.default {
            notes.push(format!("Default: {default}."));
        }
        notes.push(format!("PostgreSQL type: {}.", column.data_type));
        map.insert("description".into(), Value::String(notes.join(" ")));
        // The same facts as data, for tools that draw the schema (the API page).
        map.insert("x-pg-type".into(), Value::String(column.data_type.clone()));
        if table.primary_key.contains(&column.name) {
            map.insert("x-primary-key".into(), Value::Bool(true));
        }
        if let Some(default) = &column.default {
            map.insert("x-default".into(), Value::String(default.clone()));
        }
    }
    schema
}

fn table_schema(schema: &Schema, table: &Table) -> Value {
    let mut properties = Map::new();
    for c in &table.columns {
        properties.insert(c.name.clone(), column_schema(table, c));
    }
    // Foreign keys, as notes on the referencing columns.
    for fk in schema
        .foreign_keys
        .iter()
        .filter(|fk| fk.schema == table.schema && fk.table == table.name)
    {
        for (c, fc) in fk.columns.iter().zip(&fk.foreign_columns) {
            if let Some(Value::Object(p)) = properties.get_mut(c) {
                let note = format!(" References {}.{}({fc}).", fk.foreign_table, fc);
                if let Some(Value::String(d)) = p.get_mut("description") {
                    d.push_str(&note);
                }
                p.insert(
                    "x-references".into(),
                    json!({"schema": fk.foreign_schema, "table": fk.foreign_table, "column": fc, "constraint": fk.name}),
                );
            }
        }
    }
    let required: Vec<&str> = table
        .columns
        .iter()
        .filter(|c| !c.nullable && c.default.is_none())
        .map(|c| c.name.as_str())
        .collect();
    let kind = match table.kind {
        TableKind::View | TableKind::MaterializedView => "view",
        _ => "table",
    };
    let columns: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
    let mut out = json!({"type": "object", "properties": properties, "x-kind": kind,
        "x-primary-key": table.primary_key, "x-columns": columns});
    if !required.is_empty() {
        out["required"] = json!(required);
    }
    if let Some(comment) = &table.comment {
        out["description"] = Value::String(comment.clone());
    }
    out
}

fn query(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "query", "required": false, "description": description, "schema": {"type": "string"}})
}

fn header(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "header", "required": false, "description": description, "schema": {"type": "string"}})
}

fn rows_response(name: &str) -> Value {
    json!({
        "description": "The rows",
        "content": {
            "application/json": {"schema": {"type": "array", "items": {"$ref": format!("#/components/schemas/{name}")}}},
            "text/csv": {"schema": {"type": "string"}}
        }
    })
}

fn error_response() -> Value {
    json!({"description": "An error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn summary(comment: Option<&String>) -> Option<String> {
    comment.and_then(|c| c.lines().next()).map(str::to_owned)
}

fn table_paths(table: &Table, allow: Allow) -> Value {
    let name = &table.name;
    let mut filters: Vec<Value> = table
        .columns
        .iter()
        .map(|c| {
            query(
                &c.name,
                &format!("Filter on {}: `op.value`, e.g. `eq.1`", c.name),
            )
        })
        .collect();
    let mut read = vec![
        query(
            "select",
            "Columns and embedded resources, e.g. `id,name,rel(col)`",
        ),
        query("order", "e.g. `col.desc.nullslast`"),
        query("limit", "Rows to return"),
        query("offset", "Rows to skip"),
        query(
            "distinct",
            "An extension: empty for SELECT DISTINCT, or columns for DISTINCT ON, e.g. `author_id`",
        ),
        query("or", "A logic tree, e.g. `(a.eq.1,b.gt.2)`"),
        header("Range", "Rows to return, e.g. `0-19`"),
        header("Prefer", "`count=exact|planned|estimated`"),
    ];
    read.append(&mut filters.clone());
    let tags = json!([name]);
    let mut item = Map::new();
    let mut get = json!({
        "tags": tags,
        "parameters": read,
        "responses": {"200": rows_response(name), "206": rows_response(name), "default": error_response()}
    });
    if let Some(s) = summary(table.comment.as_ref()) {
        get["summary"] = Value::String(s);
    }
    if allow.read {
        item.insert("get".into(), get);
    }
    let body = json!({
        "description": "Rows to insert; a key that names a relationship instead of a column inserts the related rows too (a nested insert, an extension)",
        "content": {"application/json": {"schema": {"oneOf": [
            {"$ref": format!("#/components/schemas/{name}")},
            {"type": "array", "items": {"$ref": format!("#/components/schemas/{name}")}}
        ]}}}
    });
    let prefer = header(
        "Prefer",
        "`return=minimal|headers-only|representation`, `resolution=merge-duplicates|ignore-duplicates`, `missing=default`, `count=exact`",
    );
    if allow.post {
        item.insert(
            "post".into(),
            json!({
                "tags": tags,
                "parameters": [query("columns", "Columns taken from the body"), query("on_conflict", "The conflict target of an upsert"), query("select", "The representation's columns"), prefer],
                "requestBody": body,
                "responses": {"201": {"description": "Created"}, "200": {"description": "Upserted, every row an update"}, "default": error_response()}
            }),
        );
    }
    filters.push(prefer);
    if allow.patch {
        item.insert(
            "patch".into(),
            json!({
                "tags": tags,
                "parameters": filters,
                "requestBody": {"description": "An object for every filtered row, or (an extension) an array whose elements each name their row by its primary key", "content": {"application/json": {"schema": {"oneOf": [
                    {"$ref": format!("#/components/schemas/{name}")},
                    {"type": "array", "items": {"$ref": format!("#/components/schemas/{name}")}}
                ]}}}},
                "responses": {"204": {"description": "Updated"}, "200": rows_response(name), "default": error_response()}
            }),
        );
    }
    if allow.delete {
        item.insert(
            "delete".into(),
            json!({
                "tags": tags,
                "parameters": filters,
                "responses": {"204": {"description": "Deleted"}, "200": rows_response(name), "default": error_response()}
            }),
        );
    }
    Value::Object(item)
}

fn function_path(f: &Function) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for a in f.args.iter().filter(|a| !a.name.is_empty()) {
        properties.insert(a.name.clone(), type_schema(&a.data_type));
        if !a.has_default {
            required.push(a.name.clone());
        }
    }
    let mut args = json!({"type": "object", "properties": properties});
    if !required.is_empty() {
        args["required"] = json!(required);
    }
    let result = json!({"description": "The function's result", "content": {"application/json": {"schema": {}}}});
    let tags = json!(["rpc"]);
    let mut item = Map::new();
    // What the function returns and how it may be called, as data (the API page).
    let volatility = match f.volatility {
        Volatility::Immutable => "immutable",
        Volatility::Stable => "stable",
        Volatility::Volatile => "volatile",
    };
    item.insert(
        "x-function".into(),
        json!({"returns": f.return_type, "set": f.returns_set, "volatility": volatility,
               "args": f.args.iter().map(|a| json!({"name": a.name, "type": a.data_type, "default": a.has_default, "variadic": a.variadic})).collect::<Vec<_>>()}),
    );
    let mut post = json!({
        "tags": tags,
        "requestBody": {"content": {"application/json": {"schema": args}}},
        "responses": {"200": result, "204": {"description": "No result (void)"}, "default": error_response()}
    });
    if let Some(s) = summary(f.comment.as_ref()) {
        post["summary"] = Value::String(s);
    }
    item.insert("post".into(), post);
    if f.volatility != Volatility::Volatile {
        let params: Vec<Value> = f
            .args
            .iter()
            .filter(|a| !a.name.is_empty())
            .map(|a| {
                json!({"name": a.name, "in": "query", "required": !a.has_default, "schema": type_schema(&a.data_type)})
            })
            .collect();
        item.insert(
            "get".into(),
            json!({"tags": tags, "parameters": params, "responses": {"200": result, "default": error_response()}}),
        );
    }
    Value::Object(item)
}

/// The OpenAPI 3.1 document of `schema_name` in `schema`: only what
/// `privileges` grant, when given.
pub(crate) fn document(
    schema: &Schema,
    schema_name: &str,
    privileges: Option<&Privileges>,
) -> Value {
    let mut paths = Map::new();
    paths.insert(
        "/".into(),
        json!({
            "get": {"summary": "This description", "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/openapi+json": {"schema": {}}}}}},
            "post": {
                "summary": "A batch (an extension): operations run in order in one transaction; the first failure undoes them all",
                "requestBody": {"content": {"application/json": {"schema": {"type": "array", "items": {
                    "type": "object", "required": ["method", "path"], "additionalProperties": false,
                    "properties": {
                        "method": {"type": "string"}, "path": {"type": "string", "description": "e.g. /table?id=eq.1"},
                        "headers": {"type": "object", "additionalProperties": {"type": "string"}}, "body": {}
                    }
                }}}}},
                "responses": {
                    "200": {"description": "Each operation's answer", "content": {"application/json": {"schema": {"type": "array", "items": {
                        "type": "object", "properties": {"status": {"type": "integer"}, "headers": {"type": "object"}, "body": {}}
                    }}}}},
                    "default": error_response()
                }
            }
        }),
    );
    let mut schemas = Map::new();
    schemas.insert(
        "Error".into(),
        json!({"type": "object", "required": ["code", "message"], "properties": {
            "code": {"type": "string"}, "message": {"type": "string"}, "details": {}, "hint": {"type": ["string", "null"]}
        }}),
    );
    for t in schema.tables.iter().filter(|t| t.schema == schema_name) {
        let allow = match privileges {
            None => Allow::of_table(t),
            Some(p) => match p.table(&t.name) {
                Some(grants) => Allow::of_table(t).granted(grants),
                None => continue,
            },
        };
        paths.insert(format!("/{}", t.name), table_paths(t, allow));
        schemas.insert(t.name.clone(), table_schema(schema, t));
    }
    // Overloads share a path: the first one describes it.
    for f in schema
        .functions
        .iter()
        .filter(|f| f.schema == schema_name && privileges.is_none_or(|p| p.function(f)))
    {
        paths
            .entry(format!("/rpc/{}", f.name))
            .or_insert_with(|| function_path(f));
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": format!("{schema_name} — tower-postgrest"),
            "version": env!("CARGO_PKG_VERSION"),
            "description": "A PostgREST-compatible API over PostgreSQL"
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "apikey": {"type": "apiKey", "in": "header", "name": "apikey"}
            }
        },
        "security": [{}, {"bearer": []}, {"apikey": []}]
    })
}
