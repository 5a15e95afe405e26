//! Content negotiation: the `Accept` header.

use http::HeaderMap;
use http::header::ACCEPT;
use smallvec::SmallVec;
use std::borrow::Cow;

use crate::error::{Error, ErrorKind, codes};

/// A response media type this crate can produce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MediaType {
    /// `application/json`: an array of rows.
    Json,
    /// `application/vnd.pgrst.array+json;nulls=stripped`: an array of rows without null fields.
    JsonStripped,
    /// `application/vnd.pgrst.object+json`: exactly one row, as an object.
    SingularJson {
        /// `;nulls=stripped`: without null fields.
        stripped: bool,
    },
    /// `text/csv`: a header line and one line per row, in PostgreSQL's text rendering.
    Csv,
    /// `application/openapi+json`: the OpenAPI description (the root only).
    OpenApi,
    /// `application/x-ndjson`: one JSON object per row, each on its own line
    /// (an extension: PostgREST has no such output). Large reads stream.
    NdJson,
    /// `application/geo+json`: the rows as a GeoJSON FeatureCollection,
    /// each row a Feature by PostGIS's `ST_AsGeoJSON` (its geometry column
    /// the geometry, the other columns its properties), as PostgREST.
    GeoJson,
    /// What a media-type handler of the database produces; its content
    /// type is the handler's.
    Custom,
}

impl MediaType {
    /// The `Content-Type` of a response in this media type.
    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Self::Json => "application/json; charset=utf-8",
            Self::JsonStripped => "application/vnd.pgrst.array+json;nulls=stripped; charset=utf-8",
            Self::SingularJson { stripped: false } => {
                "application/vnd.pgrst.object+json; charset=utf-8"
            }
            Self::SingularJson { stripped: true } => {
                "application/vnd.pgrst.object+json;nulls=stripped; charset=utf-8"
            }
            Self::Csv => "text/csv; charset=utf-8",
            Self::OpenApi => "application/openapi+json; charset=utf-8",
            Self::NdJson => "application/x-ndjson",
            Self::GeoJson => "application/geo+json; charset=utf-8",
            Self::Custom => "application/octet-stream",
        }
    }

    /// Whether the response must hold exactly one row.
    pub(crate) fn is_singular(self) -> bool {
        matches!(self, Self::SingularJson { .. })
    }
}

/// A media type `Accept` may name, and the response media type it selects.
#[derive(Debug)]
struct Acceptable {
    /// The name, in lower case (`Accept` is matched without regard to case).
    name: &'static str,
    /// What it selects.
    selects: MediaType,
    /// What it selects with the `nulls=stripped` parameter.
    stripped: MediaType,
}

impl Acceptable {
    const fn new(name: &'static str, selects: MediaType, stripped: MediaType) -> Self {
        Self {
            name,
            selects,
            stripped,
        }
    }
}

/// Every media type `Accept` may name that this crate can produce.
const ACCEPTABLE: &[Acceptable] = {
    use MediaType::{Csv, GeoJson, Json, JsonStripped, NdJson, OpenApi, SingularJson};
    const OBJECT: MediaType = SingularJson { stripped: false };
    const OBJECT_STRIPPED: MediaType = SingularJson { stripped: true };
    &[
        Acceptable::new("*/*", Json, Json),
        Acceptable::new("application/*", Json, Json),
        Acceptable::new("application/json", Json, Json),
        Acceptable::new("application/vnd.pgrst.array+json", Json, JsonStripped),
        Acceptable::new("application/vnd.pgrst.array", Json, JsonStripped),
        Acceptable::new("application/vnd.pgrst.object+json", OBJECT, OBJECT_STRIPPED),
        Acceptable::new("application/vnd.pgrst.object", OBJECT, OBJECT_STRIPPED),
        Acceptable::new("text/csv", Csv, Csv),
        Acceptable::new("text/*", Csv, Csv),
        Acceptable::new("application/openapi+json", OpenApi, OpenApi),
        Acceptable::new("application/x-ndjson", NdJson, NdJson),
        Acceptable::new("application/geo+json", GeoJson, GeoJson),
    ]
};

/// One media range of `Accept`, with its parameters read.
#[derive(Clone, Debug)]
pub(crate) struct Offered {
    q: f32,
    /// Its position among all ranges, for ties of `q`.
    position: usize,
    /// The type, in lower case (a common one borrowed, not allocated).
    pub(crate) ty: Cow<'static, str>,
    /// `nulls=stripped`
    stripped: bool,
    /// For `application/vnd.pgrst.plan`: its format, `for` and `options`.
    explain: Option<Explain>,
}

/// `Accept: application/vnd.pgrst.plan[+json|+text]; for="…"; options=…`:
/// the request's execution plan instead of its answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Explain {
    /// `+json` (otherwise text).
    pub(crate) json: bool,
    /// The media type the plan is of (`for`, `application/json` by default), in lower case.
    pub(crate) for_type: String,
    /// EXPLAIN's options, from a fixed set, in PostgREST's order.
    pub(crate) options: Vec<&'static str>,
}

impl Explain {
    /// The options EXPLAIN may be given.
    const OPTIONS: [&'static str; 5] = ["analyze", "verbose", "settings", "buffers", "wal"];

    /// The plan's `Content-Type`, as PostgREST writes it.
    pub(crate) fn content_type(&self, answer: MediaType) -> String {
        let for_type = match answer {
            MediaType::JsonStripped => "application/vnd.pgrst.array+json;nulls=stripped",
            MediaType::SingularJson { stripped: false } => "application/vnd.pgrst.object+json",
            MediaType::SingularJson { stripped: true } => {
                "application/vnd.pgrst.object+json;nulls=stripped"
            }
            MediaType::Csv => "text/csv",
            MediaType::NdJson => "application/x-ndjson",
            MediaType::GeoJson => "application/geo+json",
            _ => "application/json",
        };
        let format = if self.json { "json" } else { "text" };
        let mut out = format!("application/vnd.pgrst.plan+{format}; for=\"{for_type}\"");
        if !self.options.is_empty() {
            out.push_str("; options=");
            out.push_str(&self.options.join("|"));
        }
        out.push_str("; charset=utf-8");
        out
    }
}

impl Offered {
    /// The media type this crate produces for it, if any (for a plan, the
    /// type the plan is of).
    pub(crate) fn builtin(&self) -> Option<MediaType> {
        if let Some(explain) = &self.explain {
            return ACCEPTABLE
                .iter()
                .find(|row| row.name == explain.for_type)
                .map(|row| row.selects);
        }
        ACCEPTABLE
            .iter()
            .find(|row| row.name == self.ty)
            .map(|row| {
                if self.stripped {
                    row.stripped
                } else {
                    row.selects
                }
            })
    }

    /// Whether it is one of PostgREST's vendor types, which no handler overrides.
    pub(crate) fn is_vendor(&self) -> bool {
        self.ty.starts_with("application/vnd.pgrst.")
    }
}

/// What `Accept` offers, in order of q-value then position (`*/*` when there
/// is no `Accept`), and the first of them this crate produces by itself.
/// Two offers are kept inline: most clients send one or two.
#[derive(Clone, Debug)]
pub(crate) struct Accepted {
    pub(crate) offers: SmallVec<[Offered; 2]>,
    pub(crate) builtin: Option<MediaType>,
    /// The plan asked for, when the chosen type is a plan's.
    pub(crate) explain: Option<Explain>,
}

impl Accepted {
    /// The 406 for when nothing offered can be produced.
    pub(crate) fn unavailable(&self) -> Error {
        let names: Vec<&str> = self.offers.iter().map(|o| o.ty.as_ref()).collect();
        none_available(&names)
    }
}

/// Reads `Accept`; see [`Accepted`].
pub(crate) fn accepted(headers: &HeaderMap) -> Result<Accepted, Error> {
    let mut offered: SmallVec<[Offered; 2]> = SmallVec::new();
    for value in headers.get_all(ACCEPT) {
        let value = value.to_str().map_err(|_| {
            Error::new(
                ErrorKind::InvalidRequest,
                "The Accept header is not valid text",
            )
        })?;
        for part in value.split(',') {
            if let Some(offer) = media_range(part, offered.len()) {
                offered.push(offer);
            }
        }
    }
    if offered.is_empty() && !headers.contains_key(ACCEPT) {
        offered.push(Offered {
            q: 1.0,
            position: 0,
            ty: Cow::Borrowed("*/*"),
            stripped: false,
            explain: None,
        });
    }
    offered.sort_by(|a, b| b.q.total_cmp(&a.q).then(a.position.cmp(&b.position)));
    let chosen = offered.iter().find(|o| o.builtin().is_some());
    let builtin = chosen.and_then(Offered::builtin);
    let explain = chosen.and_then(|o| o.explain.clone());
    Ok(Accepted {
        offers: offered,
        builtin,
        explain,
    })
}

/// Picks the first producible media type of `Accept`, in order of q-value then
/// position; no `Accept` means `*/*`. Nothing producible is a 406.
#[cfg(test)]
pub(crate) fn parse_accept(headers: &HeaderMap) -> Result<MediaType, Error> {
    let accepted = accepted(headers)?;
    accepted.builtin.ok_or_else(|| accepted.unavailable())
}

/// `media-range = type "/" subtype *( ";" parameter )`, or `None` when it is
/// empty or refused (`q=0`).
/// Media types clients send most, kept as they are rather than copied.
const COMMON_TYPES: [&str; 6] = [
    "*/*",
    "application/json",
    "application/vnd.pgrst.object+json",
    "text/csv",
    "application/geo+json",
    "application/*",
];

fn media_range(part: &str, position: usize) -> Option<Offered> {
    let mut params = part.split(';');
    let raw = params.next().unwrap_or("").trim();
    if raw.is_empty() {
        return None;
    }
    let ty: Cow<'static, str> = match COMMON_TYPES.iter().find(|t| t.eq_ignore_ascii_case(raw)) {
        Some(common) => Cow::Borrowed(common),
        None => Cow::Owned(raw.to_ascii_lowercase()),
    };
    let mut q = 1.0;
    let mut stripped = false;
    let mut for_type = None;
    let mut options = "";
    for p in params {
        if let Some((k, v)) = p.split_once('=') {
            let (k, v) = (k.trim(), v.trim());
            if k.eq_ignore_ascii_case("q") {
                q = v.parse().unwrap_or(0.0);
            } else if k.eq_ignore_ascii_case("nulls") && v.eq_ignore_ascii_case("stripped") {
                stripped = true;
            } else if k.eq_ignore_ascii_case("for") {
                for_type = Some(v.trim_matches('"').trim().to_ascii_lowercase());
            } else if k.eq_ignore_ascii_case("options") {
                options = v.trim_matches('"');
            }
        }
    }
    let explain = match ty.as_ref() {
        "application/vnd.pgrst.plan"
        | "application/vnd.pgrst.plan+text"
        | "application/vnd.pgrst.plan+json" => {
            let asked: Vec<&str> = options.split('|').map(str::trim).collect();
            Some(Explain {
                json: ty.ends_with("+json"),
                for_type: for_type.unwrap_or_else(|| "application/json".to_owned()),
                options: Explain::OPTIONS
                    .into_iter()
                    .filter(|o| asked.iter().any(|a| a.eq_ignore_ascii_case(o)))
                    .collect(),
            })
        }
        _ => None,
    };
    (q > 0.0).then_some(Offered {
        q,
        position,
        ty,
        stripped,
        explain,
    })
}

fn none_available(types: &[&str]) -> Error {
    Error::pgrst(
        codes::PGRST107,
        format!(
            "None of these media types are available: {}",
            types.join(", ")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> Result<MediaType, Error> {
        let mut h = HeaderMap::new();
        h.insert(ACCEPT, v.parse().unwrap());
        parse_accept(&h)
    }

    #[test]
    fn acceptable_names_are_lower_case_and_unique() {
        for (i, row) in ACCEPTABLE.iter().enumerate() {
            assert_eq!(row.name, row.name.to_ascii_lowercase());
            assert!(ACCEPTABLE[..i].iter().all(|other| other.name != row.name));
            assert_eq!(accept(row.name).unwrap(), row.selects, "{}", row.name);
            let stripped = format!("{};nulls=stripped", row.name);
            assert_eq!(accept(&stripped).unwrap(), row.stripped, "{}", row.name);
        }
    }

    #[test]
    fn negotiation() {
        assert_eq!(parse_accept(&HeaderMap::new()).unwrap(), MediaType::Json);
        assert_eq!(accept("*/*").unwrap(), MediaType::Json);
        assert_eq!(
            accept("application/vnd.pgrst.object+json").unwrap(),
            MediaType::SingularJson { stripped: false }
        );
        assert_eq!(
            accept("application/json;q=0.5, application/vnd.pgrst.object+json").unwrap(),
            MediaType::SingularJson { stripped: false }
        );
        assert_eq!(
            accept("application/vnd.pgrst.object+json;nulls=stripped").unwrap(),
            MediaType::SingularJson { stripped: true }
        );
        assert_eq!(
            accept("application/vnd.pgrst.array+json;nulls=stripped").unwrap(),
            MediaType::JsonStripped
        );
        assert_eq!(accept("text/csv").unwrap(), MediaType::Csv);
        assert_eq!(
            accept("text/html, application/json").unwrap(),
            MediaType::Json
        );
        assert_eq!(
            accept("text/html;q=0, Application/JSON;q=0.1, text/csv;q=0.1").unwrap(),
            MediaType::Json
        );
        assert!(accept("text/csv;q=0").is_err());
        let err = accept("foo/bar, text/html;q=0.5").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotAcceptable);
        assert_eq!(
            err.message(),
            "None of these media types are available: foo/bar, text/html"
        );
    }
}
