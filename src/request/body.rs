//! Request bodies of writes: JSON, form-urlencoded and CSV, all turned into
//! one JSON text that PostgreSQL reads with `json_populate_record[set]`.
//!
//! Every parser here runs in time linear in the body and allocates a small
//! multiple of it, whatever its shape: keys are checked with hash sets, and
//! a CSV body goes to PostgreSQL as its header once and its rows as arrays
//! (PostgreSQL pairs them), never as one object per row repeating every
//! column name. CSV is read by the `csv` crate.

use std::collections::HashSet;
use std::fmt;

use bytes::Bytes;
use http::HeaderMap;
use http::header::CONTENT_TYPE;
use serde::Deserialize;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::error::{Error, codes};

/// Whether the body is one object or an array of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    Object,
    Array,
}

/// A write's payload.
#[derive(Clone, Debug)]
pub(crate) struct Payload {
    /// The JSON text sent to PostgreSQL as one parameter.
    pub(crate) json: String,
    pub(crate) shape: Shape,
    /// The keys of the objects, in the first object's order (empty when the
    /// body was not inspected because `columns` names them).
    pub(crate) keys: Vec<String>,
    /// How many objects the body holds (1 for an object; unknown as 0 when not inspected).
    pub(crate) rows: usize,
    /// A CSV body: `json` is an array of rows, each an array of text or null,
    /// and `keys` is the header that names their fields.
    pub(crate) csv: bool,
}

impl Payload {
    /// The payload as JSON objects, for a function call's arguments: a CSV
    /// body's rows become objects here (at most `limit` bytes of them).
    pub(crate) fn objects_json(&self, limit: usize) -> Result<String, Error> {
        if !self.csv {
            return Ok(self.json.clone());
        }
        let rows: Vec<Vec<Option<String>>> = serde_json::from_str(&self.json)
            .map_err(|_| invalid_body("The CSV body could not be read"))?;
        let width: usize = self.keys.iter().map(|k| k.len() + 4).sum();
        if width.saturating_mul(rows.len()) > limit {
            return Err(invalid_body(
                "The CSV body is too wide to pass to a function",
            ));
        }
        let objects: Vec<serde_json::Map<String, serde_json::Value>> = rows
            .into_iter()
            .map(|row| {
                self.keys
                    .iter()
                    .cloned()
                    .zip(
                        row.into_iter()
                            .map(|v| v.map_or(serde_json::Value::Null, serde_json::Value::String)),
                    )
                    .collect()
            })
            .collect();
        serde_json::to_string(&objects).map_err(|_| invalid_body("The CSV body could not be read"))
    }
}

fn invalid_body(message: impl Into<String>) -> Error {
    Error::pgrst(codes::PGRST102, message)
}

/// How the body of a call by POST passes its arguments, by `Content-Type`:
/// PostgREST's rules for choosing the function depend on it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum CallBody {
    /// JSON (or no `Content-Type`): an object of named arguments, or the
    /// whole body as the one unnamed `json`/`jsonb` argument.
    #[default]
    Json,
    /// `application/x-www-form-urlencoded`: named arguments as a query
    /// string would give them (repeated for a variadic argument).
    Form,
    /// `text/csv`: the header names the arguments.
    Csv,
    /// The body as it is, for the one unnamed argument of this type.
    Raw(RawType),
}

/// The type of a function's one unnamed argument that takes the body as it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RawType {
    /// `text/plain` → `text`.
    Text,
    /// `text/xml` → `xml`.
    Xml,
    /// `application/octet-stream` → `bytea`.
    Bytea,
}

impl RawType {
    /// The argument's type as the catalog names it.
    pub(crate) fn type_name(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Xml => "xml",
            Self::Bytea => "bytea",
        }
    }

    /// The body as the argument's text form: UTF-8 text as it is, bytes in
    /// `bytea`'s hex form (two characters a byte, so linear in the body).
    pub(crate) fn argument_text(self, body: &[u8]) -> Result<String, Error> {
        match self {
            Self::Text | Self::Xml => String::from_utf8(body.to_vec())
                .map_err(|_| invalid_body("The request body is not valid UTF-8")),
            Self::Bytea => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let mut text = String::with_capacity(2 + body.len() * 2);
                text.push_str("\\x");
                for b in body {
                    text.push(char::from(HEX[usize::from(b >> 4)]));
                    text.push(char::from(HEX[usize::from(b & 0xf)]));
                }
                Ok(text)
            }
        }
    }
}

/// How a call's body passes its arguments; `None` for a `Content-Type` no
/// call takes (its 415-style error comes from [`parse_payload`]).
pub(crate) fn call_body(headers: &HeaderMap) -> Option<CallBody> {
    let media_type = content_media_type(headers);
    Some(match media_type.as_deref() {
        None | Some("" | "application/json") => CallBody::Json,
        Some("application/x-www-form-urlencoded") => CallBody::Form,
        Some("text/csv") => CallBody::Csv,
        Some("text/plain") => CallBody::Raw(RawType::Text),
        Some("text/xml") => CallBody::Raw(RawType::Xml),
        Some("application/octet-stream") => CallBody::Raw(RawType::Bytea),
        Some(_) => return None,
    })
}

/// The pairs of a form body, in order, repeated keys kept.
pub(crate) fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// A body format this crate reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BodyFormat {
    Json,
    Form,
    Csv,
}

/// Every `Content-Type` a write body may have (in lower case; matched without
/// regard to case and parameters) and the format it names. No `Content-Type`,
/// or an empty one, is JSON.
const BODY_FORMATS: &[(&str, BodyFormat)] = &[
    ("application/json", BodyFormat::Json),
    ("", BodyFormat::Json),
    ("application/x-www-form-urlencoded", BodyFormat::Form),
    ("text/csv", BodyFormat::Csv),
];

/// Parses a write body according to its `Content-Type`.
///
/// With `inspect == false` (the `columns` parameter names the columns) a JSON
/// body is passed on without parsing, as in PostgREST; only its shape is read.
pub(crate) fn parse_payload(
    headers: &HeaderMap,
    body: Bytes,
    inspect: bool,
) -> Result<Payload, Error> {
    match body_format(headers)? {
        BodyFormat::Json => json_payload(body, inspect),
        BodyFormat::Form => Ok(form_payload(&body)),
        BodyFormat::Csv => csv_payload(&body),
    }
}

/// The media type `Content-Type` names, in lower case, its parameters left
/// out; `None` without the header (or with one that is not text).
pub(crate) fn content_media_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
}

/// The format `Content-Type` names: its media type, parameters ignored.
fn body_format(headers: &HeaderMap) -> Result<BodyFormat, Error> {
    let Some(value) = headers.get(CONTENT_TYPE) else {
        return Ok(BodyFormat::Json);
    };
    let media_type = value
        .to_str()
        .map_err(|_| invalid_body("The Content-Type header is not valid text"))?
        .split(';')
        .next()
        .unwrap_or("")
        .trim();
    match BODY_FORMATS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(media_type))
    {
        Some((_, format)) => Ok(*format),
        None => Err(invalid_body(format!(
            "Content-Type not acceptable: {}",
            media_type.to_ascii_lowercase()
        ))),
    }
}

/// `application/x-www-form-urlencoded`: one object of text values; of repeated
/// keys, the first wins.
fn form_payload(body: &[u8]) -> Payload {
    let mut object = serde_json::Map::new();
    for (k, v) in form_urlencoded::parse(body) {
        object
            .entry(k.into_owned())
            .or_insert(serde_json::Value::String(v.into_owned()));
    }
    let keys = object.keys().cloned().collect();
    Payload {
        json: serde_json::Value::Object(object).to_string(),
        shape: Shape::Object,
        keys,
        rows: 1,
        csv: false,
    }
}

fn json_payload(body: Bytes, inspect: bool) -> Result<Payload, Error> {
    let empty_or_invalid = || invalid_body("Empty or invalid json");
    let first = body
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .ok_or_else(empty_or_invalid)?;
    let shape = match first {
        b'{' => Shape::Object,
        b'[' => Shape::Array,
        // Valid JSON of another kind says what is wanted; anything else
        // gets PostgREST's words.
        _ if serde_json::from_slice::<de::IgnoredAny>(&body).is_ok() => {
            return Err(invalid_body(
                "The request body must be a JSON object or an array of objects",
            ));
        }
        _ => return Err(empty_or_invalid()),
    };
    let text = || {
        String::from_utf8(Vec::from(body.clone()))
            .map_err(|_| invalid_body("The request body is not valid UTF-8"))
    };
    if !inspect {
        return Ok(Payload {
            json: text()?,
            shape,
            keys: Vec::new(),
            rows: 0,
            csv: false,
        });
    }
    let parsed: Objects = serde_json::from_slice(&body).map_err(|e| {
        let text = e.to_string();
        // An array whose elements are not all objects with the same keys.
        let mismatch = text.starts_with("All object keys must match")
            || (shape == Shape::Array && text.starts_with("invalid type"));
        if e.is_data() && mismatch {
            invalid_body("All object keys must match")
        } else if e.is_data() {
            invalid_body(
                e.to_string()
                    .split(" at line")
                    .next()
                    .unwrap_or("")
                    .to_owned(),
            )
        } else {
            // PostgREST's answer names no position.
            empty_or_invalid()
        }
    })?;
    Ok(Payload {
        json: text()?,
        shape,
        keys: parsed.keys,
        rows: parsed.rows,
        csv: false,
    })
}

/// The key set of an object, or of every object of an array (which must all match);
/// values are skipped without being built.
struct Objects {
    keys: Vec<String>,
    rows: usize,
}

struct Keys(Vec<String>);

impl<'de> Deserialize<'de> for Keys {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Keys;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Keys, A::Error> {
                // In first-seen order, each once: a set beside the list keeps it linear.
                let mut keys: Vec<String> = Vec::new();
                let mut seen: HashSet<String> = HashSet::new();
                while let Some(k) = map.next_key::<String>()? {
                    map.next_value::<IgnoredAny>()?;
                    if !seen.contains(&k) {
                        seen.insert(k.clone());
                        keys.push(k);
                    }
                }
                Ok(Keys(keys))
            }
        }
        d.deserialize_map(V)
    }
}

impl<'de> Deserialize<'de> for Objects {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Objects;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object or an array of objects")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Objects, A::Error> {
                let Keys(keys) = Keys::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(Objects { keys, rows: 1 })
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Objects, A::Error> {
                // The first object's keys, and a set of them to check the others against.
                let mut first: Option<(Vec<String>, HashSet<String>)> = None;
                let mut rows = 0;
                while let Some(Keys(keys)) = seq.next_element::<Keys>()? {
                    rows += 1;
                    match &first {
                        None => {
                            let set = keys.iter().cloned().collect();
                            first = Some((keys, set));
                        }
                        Some((f, set)) => {
                            if f.len() != keys.len() || keys.iter().any(|k| !set.contains(k)) {
                                return Err(de::Error::custom("All object keys must match"));
                            }
                        }
                    }
                }
                Ok(Objects {
                    keys: first.map(|(keys, _)| keys).unwrap_or_default(),
                    rows,
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// `text/csv`: a header line of column names, then rows of as many fields;
/// `"…"` quotes (with `""` for a quote), a field `NULL` is null (as
/// PostgREST: quoted or not), blank lines are skipped.
///
/// The payload is the rows as arrays (`[["1",null],…]`) and `keys` the
/// header: PostgreSQL pairs them, so the header is sent once.
fn csv_payload(body: &[u8]) -> Result<Payload, Error> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(body);
    let mut record = csv::StringRecord::new();
    let read = |reader: &mut csv::Reader<&[u8]>, record: &mut csv::StringRecord| {
        reader.read_record(record).map_err(|e| match e.kind() {
            csv::ErrorKind::Utf8 { .. } => invalid_body("The CSV body is not UTF-8"),
            _ => invalid_body(format!("The CSV body could not be read: {e}")),
        })
    };
    if !read(&mut reader, &mut record)? {
        return Err(invalid_body("The CSV body has no header line"));
    }
    let header: Vec<String> = record.iter().map(str::to_owned).collect();
    let mut json = String::with_capacity(body.len() + body.len() / 4 + 2);
    json.push('[');
    let mut rows = 0;
    while read(&mut reader, &mut record)? {
        if record.len() != header.len() {
            let line = record.position().map_or(rows + 2, |p| p.line() as usize);
            return Err(
                invalid_body("All lines must have same number of fields").with_details(format!(
                    "CSV line {line} has {} fields where the header has {}",
                    record.len(),
                    header.len()
                )),
            );
        }
        if rows > 0 {
            json.push(',');
        }
        json.push('[');
        for (i, field) in record.iter().enumerate() {
            if i > 0 {
                json.push(',');
            }
            if field == "NULL" {
                json.push_str("null");
            } else {
                push_json_string(&mut json, field);
            }
        }
        json.push(']');
        rows += 1;
    }
    json.push(']');
    Ok(Payload {
        json,
        shape: Shape::Array,
        keys: header,
        rows,
        csv: true,
    })
}

/// Appends `s` as a JSON string (RFC 8259 escapes).
fn push_json_string(out: &mut String, s: &str) {
    use std::fmt::Write;
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn json(body: &str) -> Result<Payload, Error> {
        parse_payload(&HeaderMap::new(), Bytes::from(body.to_owned()), true)
    }

    #[test]
    fn objects_and_arrays() {
        let p = json(r#"{"a": 1, "b": {"x": [1, 2]}}"#).unwrap();
        assert_eq!(
            (p.shape, p.keys.clone(), p.rows),
            (Shape::Object, vec!["a".into(), "b".into()], 1)
        );
        let p = json(r#"[{"a": 1, "b": 2}, {"b": 3, "a": null}]"#).unwrap();
        assert_eq!((p.shape, p.rows), (Shape::Array, 2));
        let p = json("[]").unwrap();
        assert_eq!((p.rows, p.keys.len()), (0, 0));
    }

    #[test]
    fn bad_bodies() {
        for bad in [
            "",
            "  ",
            "{",
            "nope",
            "1",
            "\"x\"",
            "[1]",
            "[{\"a\":1},{\"b\":1}]",
            "[{\"a\":1},{}]",
        ] {
            let err = json(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{bad}");
        }
        assert_eq!(
            json("[{\"a\":1},{\"b\":1}]").unwrap_err().message(),
            "All object keys must match"
        );
        assert_eq!(json("").unwrap_err().message(), "Empty or invalid json");
    }

    #[test]
    fn form_and_csv() {
        let mut h = HeaderMap::new();
        h.insert(
            CONTENT_TYPE,
            "application/x-www-form-urlencoded".parse().unwrap(),
        );
        let p = parse_payload(&h, Bytes::from_static(b"name=A+B&n=1"), true).unwrap();
        assert_eq!(p.json, r#"{"n":"1","name":"A B"}"#);

        h.insert(CONTENT_TYPE, "text/csv".parse().unwrap());
        let p = parse_payload(
            &h,
            Bytes::from_static(b"id,name,note\n1,\"a,b\",NULL\r\n2,\"say \"\"hi\"\"\",\n3,\"line1\nline2\",\"NULL\"\n"),
            true,
        )
        .unwrap();
        assert_eq!(p.keys, ["id", "name", "note"]);
        let v: serde_json::Value = serde_json::from_str(&p.json).unwrap();
        // A field NULL is null, quoted or not (as PostgREST); empty is the empty string.
        assert_eq!(
            v,
            serde_json::json!([
                ["1", "a,b", null],
                ["2", "say \"hi\"", ""],
                ["3", "line1\nline2", null]
            ])
        );
        let v: serde_json::Value =
            serde_json::from_str(&p.objects_json(usize::MAX).unwrap()).unwrap();
        assert_eq!(
            v[1],
            serde_json::json!({"id": "2", "name": "say \"hi\"", "note": ""})
        );
        assert!(p.objects_json(10).is_err(), "bounded");
        assert!(parse_payload(&h, Bytes::from_static(b"a,b\n1\n"), true).is_err());

        h.insert(CONTENT_TYPE, "text/plain".parse().unwrap());
        let err = parse_payload(&h, Bytes::from_static(b"x"), true).unwrap_err();
        assert_eq!(err.message(), "Content-Type not acceptable: text/plain");
        h.insert(CONTENT_TYPE, "Text/Plain; charset=utf-8".parse().unwrap());
        let err = parse_payload(&h, Bytes::from_static(b"x"), true).unwrap_err();
        assert_eq!(err.message(), "Content-Type not acceptable: text/plain");
        for (name, _) in BODY_FORMATS {
            h.insert(
                CONTENT_TYPE,
                format!("{} ; charset=UTF-8", name.to_ascii_uppercase())
                    .parse()
                    .unwrap(),
            );
            assert!(
                parse_payload(&h, Bytes::from_static(b"{}\n"), true).is_ok(),
                "{name}"
            );
        }
    }
}
