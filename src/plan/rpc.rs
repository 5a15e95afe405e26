//! Planning function calls: `/rpc/{function}`.

use std::collections::BTreeMap;

use super::{ReadPlan, plan_shape};
use crate::config::Config;
use crate::error::{Error, codes};
use crate::request::{Action, ApiRequest, Shape};
use crate::schema::{Function, FunctionArg, Schema, Table, TableKind, Volatility};

/// What a function returns, as the response shapes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Returns {
    /// `void`: 204, no body.
    Void,
    /// A scalar: a bare JSON value, or an array of them for `SETOF`.
    Scalar { set: bool },
    /// A row type: an object, or an array of objects for `SETOF`/`TABLE`.
    Composite { set: bool },
}

/// How the arguments reach the function.
#[derive(Clone, Debug)]
pub(crate) enum CallArgs<'r> {
    /// `fn(a := …, b := …)` from the keys of one JSON object.
    Named(Vec<&'r FunctionArg>),
    /// `fn($1::json)`: the whole body is the one unnamed `json`/`jsonb` argument.
    SingleJson(&'r FunctionArg),
}

/// A planned function call; `shape` applies `select`, filters, `order`, paging
/// and the media type to the rows it returns.
#[derive(Clone, Debug)]
pub(crate) struct CallPlan<'r> {
    pub(crate) function: &'r Function,
    pub(crate) args: CallArgs<'r>,
    /// The arguments as one JSON object (or the body for [`CallArgs::SingleJson`]).
    pub(crate) json: String,
    /// The JSON text is an array whose first element holds the arguments.
    pub(crate) first_of_array: bool,
    pub(crate) returns: Returns,
    pub(crate) shape: ReadPlan<'r>,
    pub(crate) read_only: bool,
}

/// The row type of results whose type the schema cache does not describe.
static NO_TABLE: Table = Table {
    schema: String::new(),
    name: String::new(),
    kind: TableKind::Table,
    columns: Vec::new(),
    primary_key: Vec::new(),
    unique_keys: Vec::new(),
    insertable: false,
    updatable: false,
    deletable: false,
    comment: None,
};

fn signature(f: &Function) -> String {
    let args: Vec<String> = f
        .args
        .iter()
        .map(|a| {
            if a.name.is_empty() {
                a.data_type.clone()
            } else {
                format!("{} => {}", a.name, a.data_type)
            }
        })
        .collect();
    format!("{}.{}({})", f.schema, f.name, args.join(", "))
}

/// Plans a call of the function `name` of the default schema.
pub(crate) fn plan_call<'r>(
    req: &'r ApiRequest,
    schema: &'r Schema,
    ns: &'r str,
    name: &str,
    config: &Config,
) -> Result<CallPlan<'r>, Error> {
    let by_get = matches!(req.action, Action::Call { by_get: true, .. });

    // The arguments, as a JSON object of their values.
    let (json, first_of_array, keys): (String, bool, Vec<String>) = if by_get {
        let mut object: BTreeMap<String, serde_json::Value> = BTreeMap::new();
        for (k, v) in &req.args {
            let value = serde_json::Value::String(v.clone());
            match object.get_mut(k) {
                // A repeated parameter is a variadic one's list (or the last value).
                Some(serde_json::Value::Array(list)) => list.push(value),
                Some(existing) => {
                    let first = existing.take();
                    *existing = serde_json::Value::Array(vec![first, value]);
                }
                None => {
                    object.insert(k.clone(), value);
                }
            }
        }
        let keys = object.keys().cloned().collect();
        (
            serde_json::to_string(&object).unwrap_or_else(|_| "{}".to_owned()),
            false,
            keys,
        )
    } else {
        let payload = req.payload.as_ref();
        let keys = match (&req.columns, payload) {
            (Some(cols), _) => cols.clone(),
            (None, Some(p)) => p.keys.clone(),
            (None, None) => Vec::new(),
        };
        (
            payload.map_or_else(|| "{}".to_owned(), |p| p.json.clone()),
            payload.is_some_and(|p| p.shape == Shape::Array),
            keys,
        )
    };

    let candidates: Vec<&Function> = schema
        .functions
        .iter()
        .filter(|f| f.schema == ns && f.name == name)
        .collect();
    let named: Vec<&Function> = candidates
        .iter()
        .copied()
        .filter(|f| f.args.iter().all(|a| !a.name.is_empty()))
        .filter(|f| {
            keys.iter().all(|k| f.args.iter().any(|a| &a.name == k))
                && f.args
                    .iter()
                    .all(|a| a.has_default || keys.contains(&a.name))
        })
        .collect();
    let (function, args) = match named.as_slice() {
        [f] => (
            *f,
            CallArgs::Named(f.args.iter().filter(|a| keys.contains(&a.name)).collect()),
        ),
        [_, _, ..] => {
            let list: Vec<String> = named.iter().map(|f| signature(f)).collect();
            return Err(Error::pgrst(codes::PGRST203,
                format!(
                    "Could not choose the best candidate function between: {}",
                    list.join(", ")
                ),
            )
            .with_hint("Try renaming the parameters or the function itself in the database so function overloading can be resolved")
            );
        }
        [] => {
            let json_arg = candidates.iter().find_map(|f| match f.args.as_slice() {
                [a] if !by_get && (a.data_type == "json" || a.data_type == "jsonb") => {
                    Some((*f, a))
                }
                _ => None,
            });
            match json_arg {
                Some((f, a)) => (f, CallArgs::SingleJson(a)),
                None => return Err(not_found(schema, ns, name, &keys, by_get)),
            }
        }
    };

    let returns = if function.return_type == "void" {
        Returns::Void
    } else if function.returns_composite {
        Returns::Composite {
            set: function.returns_set,
        }
    } else {
        Returns::Scalar {
            set: function.returns_set,
        }
    };
    // The result rows' columns, when they are a table of the schema cache.
    let table = function
        .return_type
        .split_once('.')
        .and_then(|(s, t)| schema.table(s, t.trim_matches('"')))
        .unwrap_or(&NO_TABLE);
    let shape = plan_shape(req, table, schema, config)?;
    Ok(CallPlan {
        function,
        args,
        json,
        first_of_array,
        returns,
        shape,
        read_only: by_get || function.volatility != Volatility::Volatile,
    })
}

fn not_found(schema: &Schema, ns: &str, name: &str, keys: &[String], by_get: bool) -> Error {
    // PostgREST's words, which clients show as they are. A POST could also have
    // meant a function taking the whole body as one json argument.
    let or_json = if by_get {
        ""
    } else {
        " or with a single unnamed json/jsonb parameter"
    };
    let (message, details) = if keys.is_empty() {
        (
            format!(
                "Could not find the function {ns}.{name} without parameters in the schema cache"
            ),
            format!(
                "Searched for the function {ns}.{name} without parameters{or_json}, but no matches were found in the schema cache."
            ),
        )
    } else {
        let noun = if keys.len() == 1 {
            "parameter"
        } else {
            "parameters"
        };
        (
            format!(
                "Could not find the function {ns}.{name}({}) in the schema cache",
                keys.join(", ")
            ),
            format!(
                "Searched for the function {ns}.{name} with {noun} {}{or_json}, but no matches were found in the schema cache.",
                keys.join(", ")
            ),
        )
    };
    let mut err = Error::pgrst(codes::PGRST202, message).with_details(details);
    let same_name = schema
        .functions
        .iter()
        .find(|f| f.schema == ns && f.name == name);
    if let Some(f) = same_name {
        let names: Vec<&str> = f.args.iter().map(|a| a.name.as_str()).collect();
        err = err.with_hint(format!(
            "Perhaps you meant to call the function {ns}.{name}({})",
            names.join(", ")
        ));
    } else if let Some(close) = schema.closest_function(ns, name) {
        err = err.with_hint(format!(
            "Perhaps you meant to call the function {ns}.{close}"
        ));
    }
    err
}
