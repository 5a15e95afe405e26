//! Planning function calls: `/rpc/{function}`.

use std::collections::BTreeMap;

use super::{ReadPlan, plan_shape};
use crate::config::Config;
use crate::error::{Error, codes};
use crate::request::{Action, ApiRequest, CallBody, Shape, Target, TxEnd};
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
    /// `fn($1::text)`: the body as sent is the one unnamed `text`, `xml` or
    /// `bytea` argument (`bytea` in its hex form).
    SingleRaw(&'r FunctionArg),
}

/// A planned function call; `shape` applies `select`, filters, `order`, paging
/// and the media type to the rows it returns.
#[derive(Clone, Debug)]
pub(crate) struct CallPlan<'r> {
    pub(crate) function: &'r Function,
    pub(crate) args: CallArgs<'r>,
    /// The arguments as one JSON object (or the body for
    /// [`CallArgs::SingleJson`], its text for [`CallArgs::SingleRaw`]).
    pub(crate) json: String,
    /// The JSON text is an array whose first element holds the arguments.
    pub(crate) first_of_array: bool,
    pub(crate) returns: Returns,
    pub(crate) shape: ReadPlan<'r>,
    pub(crate) read_only: bool,
    /// `Prefer: tx=` when the service allows it; commit otherwise.
    pub(crate) tx_end: TxEnd,
    /// `Prefer: handling=strict, max-affected=n`: the most rows the call
    /// may return (its transaction rolls back otherwise).
    pub(crate) max_affected: Option<i64>,
    /// Preferences applied besides `count`, for `Preference-Applied`.
    pub(crate) applied: Vec<String>,
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
    estimated_bytes: 0,
};

fn signature(f: &Function) -> String {
    let args: Vec<String> = f
        .args
        .iter()
        .map(|a| format!("{} => {}", a.name, a.data_type))
        .collect();
    format!("{}.{}({})", f.schema, f.name, args.join(", "))
}

/// Whether the function can be called at all: every argument named, or one
/// unnamed argument of a type that takes a whole body (PostgREST leaves the
/// others out of its schema cache).
fn callable(f: &Function) -> bool {
    match f.args.as_slice() {
        [a] if a.name.is_empty() => {
            matches!(
                a.data_type.as_str(),
                "json" | "jsonb" | "text" | "xml" | "bytea"
            )
        }
        args => args.iter().all(|a| !a.name.is_empty()),
    }
}

/// How a call passes its arguments: by GET's query string, or by a POST
/// body of some kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Via {
    Get,
    Post(CallBody),
}

impl Via {
    fn of(req: &ApiRequest, by_get: bool) -> Self {
        if by_get {
            Self::Get
        } else {
            Self::Post(req.call_body)
        }
    }

    /// The argument values come as pairs (a query string or a form body).
    fn pairs(self) -> bool {
        matches!(self, Self::Get | Self::Post(CallBody::Form))
    }

    /// The type of a function's one unnamed argument that takes this body.
    fn takes_whole_body(self, data_type: &str) -> bool {
        match self {
            Self::Post(CallBody::Json) => matches!(data_type, "json" | "jsonb"),
            Self::Post(CallBody::Raw(raw)) => data_type == raw.type_name(),
            _ => false,
        }
    }
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

    let via = Via::of(req, by_get);
    let (json, first_of_array, keys) =
        call_arguments(req, via, config.body_limit.saturating_mul(4))?;

    let (function, args) = choose(schema, ns, name, &keys, via)?;
    let json = match args {
        _ if via.pairs() => pairs_json(&req.args, function),
        CallArgs::SingleRaw(_) => req.raw_arg.clone().unwrap_or_default(),
        _ => json,
    };
    let first_of_array = first_of_array && matches!(args, CallArgs::Named(_));

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
    let target = crate::schema::HandlerKey::Function(&function.schema, &function.name);
    let shape = plan_shape(req, table, schema, config, Some(target))?;
    // As for writes (PostgREST 12.2): `handling=strict` with `max-affected`
    // bounds the rows the call returns, and `tx=` applies when allowed.
    let prefs = &req.prefs;
    let mut applied = Vec::new();
    let max_affected = prefs.max_affected.filter(|_| prefs.strict);
    if max_affected.is_some() && !function.returns_set {
        return Err(Error::pgrst(
            codes::PGRST128,
            "Function must return SETOF or TABLE when max-affected preference is used with handling=strict",
        ));
    }
    if prefs.strict {
        applied.push("handling=strict".to_owned());
    } else if prefs.lenient {
        applied.push("handling=lenient".to_owned());
    }
    if let Some(n) = max_affected {
        applied.push(format!("max-affected={n}"));
    }
    let tx_end = super::write::tx_end(req, config, &mut applied);
    Ok(CallPlan {
        function,
        args,
        json,
        first_of_array,
        returns,
        shape,
        read_only: by_get || function.volatility != Volatility::Volatile,
        tx_end,
        max_affected,
        applied,
    })
}

/// The function a call names, by PostgREST's rules: the one overload whose
/// named arguments are the keys given (each other argument having a
/// default); else the one whose single unnamed argument takes the body as
/// it is (`json`/`jsonb` for JSON, `text`, `xml`, `bytea` for those media
/// types); 300 when several fit, 404 when none does.
fn choose<'r>(
    schema: &'r Schema,
    ns: &str,
    name: &str,
    keys: &[String],
    via: Via,
) -> Result<(&'r Function, CallArgs<'r>), Error> {
    let candidates: Vec<&Function> = schema
        .functions
        .iter()
        .filter(|f| f.schema == ns && f.name == name && callable(f))
        .collect();
    let raw = matches!(via, Via::Post(CallBody::Raw(_)));
    let named: Vec<&Function> = candidates
        .iter()
        .copied()
        .filter(|f| f.args.iter().all(|a| !a.name.is_empty()))
        .filter(|f| !(f.args.is_empty() && raw))
        .filter(|f| {
            keys.iter().all(|k| f.args.iter().any(|a| &a.name == k))
                && f.args
                    .iter()
                    .all(|a| a.has_default || keys.contains(&a.name))
        })
        .collect();
    let whole_body: Vec<&Function> = candidates
        .iter()
        .copied()
        .filter(|f| matches!(f.args.as_slice(), [a] if a.name.is_empty() && via.takes_whole_body(&a.data_type)))
        .collect();
    let ambiguous = |list: &[&Function]| {
        let list: Vec<String> = list.iter().map(|f| signature(f)).collect();
        Error::pgrst(
            codes::PGRST203,
            format!(
                "Could not choose the best candidate function between: {}",
                list.join(", ")
            ),
        )
        .with_hint("Try renaming the parameters or the function itself in the database so function overloading can be resolved")
    };
    Ok(match (named.as_slice(), whole_body.as_slice()) {
        ([f], _) => (
            *f,
            CallArgs::Named(f.args.iter().filter(|a| keys.contains(&a.name)).collect()),
        ),
        ([_, _, ..], _) => return Err(ambiguous(&named)),
        ([], [f]) => {
            let arg = &f.args[0];
            let args = if raw {
                CallArgs::SingleRaw(arg)
            } else {
                CallArgs::SingleJson(arg)
            };
            (*f, args)
        }
        ([], [_, _, ..]) => return Err(ambiguous(&whole_body)),
        ([], []) => return Err(not_found(schema, ns, name, keys, via, &candidates)),
    })
}

/// The arguments given as pairs (a query string or a form body) as one JSON
/// object: a variadic argument's values, all of them, as a list; any other
/// argument's last value, as PostgREST takes it. One value of a variadic
/// argument written as an array literal (`{1,2,3}`) is the whole list, as
/// this crate read it before it followed PostgREST here.
fn pairs_json(pairs: &[(String, String)], function: &Function) -> String {
    use serde_json::Value;
    let mut object: BTreeMap<&str, Value> = BTreeMap::new();
    for (k, v) in pairs {
        let value = Value::String(v.clone());
        let variadic = function.args.iter().any(|a| a.variadic && a.name == *k);
        match object.get_mut(k.as_str()) {
            Some(Value::Array(list)) if variadic => list.push(value),
            Some(existing) if variadic => {
                let first = existing.take();
                *existing = Value::Array(vec![first, value]);
            }
            None if variadic && !(v.starts_with('{') && v.ends_with('}')) => {
                object.insert(k, Value::Array(vec![value]));
            }
            _ => {
                object.insert(k, value);
            }
        }
    }
    serde_json::to_string(&object).unwrap_or_else(|_| "{}".to_owned())
}

/// The arguments of a call as one JSON text (for a POST of JSON or CSV, the
/// body as sent), whether that text is an array whose first element holds
/// them, and the argument names (sorted and once each, for pairs).
fn call_arguments(
    req: &ApiRequest,
    via: Via,
    limit: usize,
) -> Result<(String, bool, Vec<String>), Error> {
    if via.pairs() {
        let mut keys: Vec<String> = req.args.iter().map(|(k, _)| k.clone()).collect();
        keys.sort_unstable();
        keys.dedup();
        return Ok((String::new(), false, keys));
    }
    if matches!(via, Via::Post(CallBody::Raw(_))) {
        return Ok((String::new(), false, Vec::new()));
    }
    let payload = req.payload.as_ref();
    let keys = match (&req.columns, payload) {
        (Some(cols), _) => cols.clone(),
        (None, Some(p)) => p.keys.clone(),
        (None, None) => Vec::new(),
    };
    Ok((
        match payload {
            Some(p) => p.objects_json(limit)?,
            None => "{}".to_owned(),
        },
        payload.is_some_and(|p| p.shape == Shape::Array),
        keys,
    ))
}

/// The 404 for a call to a function of no known name whose body was too
/// large to read for its argument names (which PostgREST's 404 lists): the
/// words PostgREST uses when it names no arguments.
pub(crate) fn unknown_function(req: &ApiRequest, config: &Config) -> Option<Error> {
    let Target::Function(name) = &req.target else {
        return None;
    };
    let ns = config.exposed(req.profile.as_deref()).ok()?.name;
    Some(
        Error::pgrst(
            codes::PGRST202,
            format!("Could not find the function {ns}.{name} in the schema cache"),
        )
        .with_details(format!(
            "Searched for the function {ns}.{name}, but no matches were found in the schema cache."
        )),
    )
}

fn not_found(
    schema: &Schema,
    ns: &str,
    name: &str,
    keys: &[String],
    via: Via,
    overloads: &[&Function],
) -> Error {
    // PostgREST's words, which clients show as they are.
    if let Via::Post(CallBody::Raw(raw)) = via {
        return Error::pgrst(
            codes::PGRST202,
            format!("Could not find the function {ns}.{name} in the schema cache"),
        )
        .with_details(format!(
            "Searched for the function {ns}.{name} with a single unnamed {} parameter, but no matches were found in the schema cache.",
            raw.type_name()
        ));
    }
    // A POST of JSON could also have meant a function taking the whole body
    // as one json argument.
    let or_json = if via == Via::Post(CallBody::Json) {
        " or with a single unnamed json/jsonb parameter"
    } else {
        ""
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
    let err = Error::pgrst(codes::PGRST202, message).with_details(details);
    // The hint: of the overloads of this name, the one whose argument names
    // are most like the keys given; without overloads, the most similar
    // function name.
    let hint = if overloads.is_empty() {
        let callable_names = schema
            .functions
            .iter()
            .filter(|f| f.schema == ns && callable(f))
            .map(|f| f.name.as_str());
        crate::schema::closest_name(name, callable_names).map(str::to_owned)
    } else {
        let listed = |names: Vec<&str>| {
            let mut names = names;
            names.sort_unstable();
            format!("({})", names.join(", "))
        };
        let given = listed(keys.iter().map(String::as_str).collect());
        let lists: Vec<String> = overloads
            .iter()
            .map(|f| listed(f.args.iter().map(|a| a.name.as_str()).collect()))
            .collect();
        crate::schema::loosely_closest_name(&given, lists.iter().map(String::as_str))
            .map(|l| format!("{name}{l}"))
    };
    match hint {
        Some(h) => err.with_hint(format!("Perhaps you meant to call the function {ns}.{h}")),
        None => err,
    }
}

#[cfg(test)]
mod tests {
    use http::Method;

    use super::super::testing::{call, plan_of, req};
    use super::super::{Plan, PlanKind};
    use super::*;

    fn named<'p>(c: &'p CallPlan<'_>) -> Vec<&'p str> {
        match &c.args {
            CallArgs::Named(args) => args.iter().map(|a| a.name.as_str()).collect(),
            CallArgs::SingleJson(a) | CallArgs::SingleRaw(a) => {
                panic!("a single whole-body argument: {a:?}")
            }
        }
    }

    fn planned(r: &ApiRequest) -> Plan<'_> {
        let plan = plan_of(r).expect("the call plans");
        assert!(matches!(plan.kind, PlanKind::Call(_)));
        plan
    }

    #[test]
    fn a_body_names_the_arguments_and_defaults_may_be_left_out() {
        let r = req(
            Method::POST,
            "/rpc/items_under",
            &[],
            Some(r#"{"max_price": 1}"#),
        );
        let plan = planned(&r);
        let c = call(&plan);
        assert_eq!(c.function.name, "items_under");
        assert_eq!(named(c), ["max_price"]);
        assert_eq!(c.json, r#"{"max_price": 1}"#);
        assert!(!c.first_of_array);
        assert_eq!(c.returns, Returns::Composite { set: true });
        assert_eq!(c.shape.table.name, "items");

        let r = req(
            Method::POST,
            "/rpc/items_under",
            &[],
            Some(r#"{"min_qty": 2, "max_price": 1}"#),
        );
        let plan = planned(&r);
        // In the function's order.
        assert_eq!(named(call(&plan)), ["max_price", "min_qty"]);

        // The first object of an array body holds the arguments.
        let r = req(
            Method::POST,
            "/rpc/items_under",
            &[],
            Some(r#"[{"max_price": 1}, {"max_price": 2}]"#),
        );
        let plan = planned(&r);
        assert!(call(&plan).first_of_array);
        assert_eq!(named(call(&plan)), ["max_price"]);

        // No body, no arguments.
        let r = req(Method::POST, "/rpc/item_ids", &[], None);
        let plan = planned(&r);
        assert!(named(call(&plan)).is_empty());
        assert_eq!(call(&plan).json, "{}");
    }

    #[test]
    fn columns_chooses_the_arguments() {
        let r = req(
            Method::POST,
            "/rpc/items_under?columns=max_price",
            &[],
            Some(r#"{"max_price": 1, "other": 2}"#),
        );
        let plan = planned(&r);
        assert_eq!(named(call(&plan)), ["max_price"]);
    }

    #[test]
    fn missing_or_unknown_arguments_are_pgrst202_with_the_parameters_as_hint() {
        let r = req(
            Method::POST,
            "/rpc/items_under",
            &[],
            Some(r#"{"min_qty": 2}"#),
        );
        let err = plan_of(&r).unwrap_err();
        assert_eq!(err.postgrest_code(), "PGRST202");
        assert_eq!(err.status(), http::StatusCode::NOT_FOUND);
        assert_eq!(
            err.message(),
            "Could not find the function public.items_under(min_qty) in the schema cache"
        );
        assert_eq!(
            err.details(),
            Some(
                "Searched for the function public.items_under with parameter min_qty or with a single unnamed json/jsonb parameter, but no matches were found in the schema cache."
            )
        );
        assert_eq!(
            err.hint(),
            Some("Perhaps you meant to call the function public.items_under(max_price, min_qty)")
        );

        let r = req(
            Method::POST,
            "/rpc/items_under",
            &[],
            Some(r#"{"max_price": 1, "x": 2}"#),
        );
        let err = plan_of(&r).unwrap_err();
        assert_eq!(
            err.message(),
            "Could not find the function public.items_under(max_price, x) in the schema cache"
        );
        assert_eq!(
            err.details(),
            Some(
                "Searched for the function public.items_under with parameters max_price, x or with a single unnamed json/jsonb parameter, but no matches were found in the schema cache."
            )
        );

        // By GET, no arguments; and no json fallback to mention.
        let r = req(Method::GET, "/rpc/items_under", &[], None);
        let err = plan_of(&r).unwrap_err();
        assert_eq!(
            err.message(),
            "Could not find the function public.items_under without parameters in the schema cache"
        );
        assert_eq!(
            err.details(),
            Some(
                "Searched for the function public.items_under without parameters, but no matches were found in the schema cache."
            )
        );
    }

    #[test]
    fn an_unknown_function_suggests_the_closest_name() {
        let r = req(Method::GET, "/rpc/items_undr?max_price=1", &[], None);
        let err = plan_of(&r).unwrap_err();
        assert_eq!(err.postgrest_code(), "PGRST202");
        assert_eq!(
            err.message(),
            "Could not find the function public.items_undr(max_price) in the schema cache"
        );
        assert_eq!(
            err.hint(),
            Some("Perhaps you meant to call the function public.items_under")
        );
        let r = req(Method::GET, "/rpc/qqqqqqqqqqqq", &[], None);
        let err = plan_of(&r).unwrap_err();
        assert_eq!(err.postgrest_code(), "PGRST202");
        assert_eq!(err.hint(), None);
    }

    #[test]
    fn same_argument_names_of_different_types_are_ambiguous() {
        let r = req(Method::GET, "/rpc/overloaded?x=1", &[], None);
        let err = plan_of(&r).unwrap_err();
        assert_eq!(err.postgrest_code(), "PGRST203");
        assert_eq!(err.status(), http::StatusCode::MULTIPLE_CHOICES);
        assert_eq!(
            err.message(),
            "Could not choose the best candidate function between: public.overloaded(x => integer), public.overloaded(x => text)"
        );
        assert_eq!(
            err.hint(),
            Some(
                "Try renaming the parameters or the function itself in the database so function overloading can be resolved"
            )
        );
        let r = req(Method::POST, "/rpc/overloaded", &[], Some(r#"{"x": "a"}"#));
        assert_eq!(plan_of(&r).unwrap_err().postgrest_code(), "PGRST203");
    }

    #[test]
    fn get_takes_the_arguments_from_the_query_and_filters_the_result() {
        let r = req(
            Method::GET,
            "/rpc/items_under?min_qty=2&max_price=1.5&id=gt.1&order=id&limit=2",
            &[],
            None,
        );
        let plan = planned(&r);
        let c = call(&plan);
        assert_eq!(named(c), ["max_price", "min_qty"]);
        assert_eq!(c.json, r#"{"max_price":"1.5","min_qty":"2"}"#);
        assert!(!c.first_of_array);
        assert_eq!(c.shape.conditions.len(), 1);
        assert_eq!(c.shape.order.len(), 1);
        assert_eq!(c.shape.limit, Some(2));
    }

    #[test]
    fn a_repeated_query_parameter_is_a_list() {
        let r = req(Method::GET, "/rpc/sum_of?nums=1&nums=2&nums=3", &[], None);
        let plan = planned(&r);
        let c = call(&plan);
        assert_eq!(c.json, r#"{"nums":["1","2","3"]}"#);
        let CallArgs::Named(args) = &c.args else {
            panic!("named")
        };
        assert!(args[0].variadic);
        assert_eq!(c.returns, Returns::Scalar { set: false });
    }

    /// POSTGREST.md §1.9: "repeated non-variadic params keep the last value".
    #[test]
    fn a_repeated_non_variadic_parameter_keeps_the_last_value() {
        let r = req(
            Method::GET,
            "/rpc/items_under?max_price=1&max_price=2",
            &[],
            None,
        );
        let plan = planned(&r);
        assert_eq!(call(&plan).json, r#"{"max_price":"2"}"#);
    }

    #[test]
    fn a_single_unnamed_json_argument_takes_the_whole_body_by_post() {
        let r = req(
            Method::POST,
            "/rpc/echo_json",
            &[],
            Some(r#"{"a": 1, "b": [2]}"#),
        );
        let plan = planned(&r);
        let c = call(&plan);
        let CallArgs::SingleJson(arg) = &c.args else {
            panic!("a single json argument: {:?}", c.args)
        };
        assert_eq!(arg.data_type, "json");
        assert_eq!(arg.name, "");
        assert_eq!(c.json, r#"{"a": 1, "b": [2]}"#);
        assert_eq!(c.returns, Returns::Scalar { set: false });
        // Not by GET.
        let r = req(Method::GET, "/rpc/echo_json?a=1", &[], None);
        let err = plan_of(&r).unwrap_err();
        assert_eq!(err.postgrest_code(), "PGRST202");
        assert_eq!(
            err.details(),
            Some(
                "Searched for the function public.echo_json with parameter a, but no matches were found in the schema cache."
            )
        );
    }

    /// POSTGREST.md §1.9: a single unnamed json parameter gets the "whole body passed as one argument".
    #[test]
    fn a_single_json_argument_takes_an_array_body_whole() {
        let r = req(
            Method::POST,
            "/rpc/echo_json",
            &[],
            Some(r#"[{"a": 1}, {"a": 2}]"#),
        );
        let plan = planned(&r);
        let c = call(&plan);
        assert!(matches!(c.args, CallArgs::SingleJson(_)));
        assert!(!c.first_of_array);
    }

    #[test]
    fn volatility_and_method_decide_read_only() {
        for (method, target, body, read_only) in [
            (
                Method::POST,
                "/rpc/items_under",
                Some(r#"{"max_price": 1}"#),
                true,
            ),
            (Method::POST, "/rpc/echo_json", Some("{}"), true),
            (
                Method::POST,
                "/rpc/volatile_noop",
                Some(r#"{"n": 1}"#),
                false,
            ),
            (Method::GET, "/rpc/volatile_noop?n=1", None, true),
            (Method::HEAD, "/rpc/volatile_noop?n=1", None, true),
            (Method::GET, "/rpc/items_under?max_price=1", None, true),
        ] {
            let r = req(method.clone(), target, &[], body);
            let plan = planned(&r);
            assert_eq!(call(&plan).read_only, read_only, "{method} {target}");
            assert_eq!(plan.tx.read_only, read_only, "{method} {target}");
            assert_eq!(
                plan.tx.end,
                crate::request::TxEnd::Commit,
                "{method} {target}"
            );
        }
    }

    #[test]
    fn what_a_function_returns() {
        for (target, returns, table) in [
            ("/rpc/volatile_noop?n=1", Returns::Void, ""),
            ("/rpc/echo_json", Returns::Scalar { set: false }, ""),
            ("/rpc/item_ids", Returns::Scalar { set: true }, ""),
            (
                "/rpc/cheapest_item",
                Returns::Composite { set: false },
                "items",
            ),
            (
                "/rpc/items_under?max_price=1",
                Returns::Composite { set: true },
                "items",
            ),
        ] {
            let (method, body) = if target == "/rpc/echo_json" {
                (Method::POST, Some("{}"))
            } else {
                (Method::GET, None)
            };
            let r = req(method, target, &[], body);
            let plan = planned(&r);
            let c = call(&plan);
            assert_eq!(c.returns, returns, "{target}");
            assert_eq!(c.shape.table.name, table, "{target}");
        }
    }

    #[test]
    fn only_a_set_of_rows_is_checked_for_one_row() {
        let accept = [("accept", "application/vnd.pgrst.object+json")];
        for (target, singular) in [
            ("/rpc/items_under?max_price=1", true),
            ("/rpc/cheapest_item", false),
            ("/rpc/item_ids", false),
            ("/rpc/volatile_noop?n=1", false),
        ] {
            let r = req(Method::GET, target, &accept, None);
            let plan = planned(&r);
            assert_eq!(plan.checks.singular, singular, "{target}");
            // Read-only: checked on the result, nothing to roll back.
            assert!(!plan.decides_commit(), "{target}");
        }
        let r = req(Method::GET, "/rpc/items_under?max_price=1", &[], None);
        assert!(!planned(&r).checks.singular);
    }
}
