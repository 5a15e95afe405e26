//! Content negotiation: the `Accept` header.

use http::HeaderMap;
use http::header::ACCEPT;

use crate::error::{Error, ErrorKind};

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
        }
    }

    /// Whether the response must hold exactly one row.
    pub(crate) fn is_singular(self) -> bool {
        matches!(self, Self::SingularJson { .. })
    }
}

/// Picks the first producible media type of `Accept`, in order of q-value then
/// position; no `Accept` means `*/*`. Nothing producible is a 406.
pub(crate) fn parse_accept(headers: &HeaderMap) -> Result<MediaType, Error> {
    let mut offered: Vec<(f32, usize, String, bool)> = Vec::new();
    for value in headers.get_all(ACCEPT) {
        let value = value.to_str().map_err(|_| {
            Error::new(
                ErrorKind::InvalidRequest,
                "The Accept header is not valid text",
            )
        })?;
        for part in value.split(',') {
            let mut params = part.split(';');
            let ty = params.next().unwrap_or("").trim().to_ascii_lowercase();
            if ty.is_empty() {
                continue;
            }
            let mut q = 1.0;
            let mut stripped = false;
            for p in params {
                if let Some((k, v)) = p.split_once('=') {
                    let (k, v) = (k.trim(), v.trim());
                    if k.eq_ignore_ascii_case("q") {
                        q = v.parse().unwrap_or(0.0);
                    } else if k.eq_ignore_ascii_case("nulls") && v.eq_ignore_ascii_case("stripped")
                    {
                        stripped = true;
                    }
                }
            }
            if q > 0.0 {
                let n = offered.len();
                offered.push((q, n, ty, stripped));
            }
        }
    }
    if offered.is_empty() {
        if headers.contains_key(ACCEPT) {
            return Err(none_available(&[]));
        }
        return Ok(MediaType::Json);
    }
    offered.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, _, ty, stripped) in &offered {
        match ty.as_str() {
            "*/*" | "application/*" | "application/json" => return Ok(MediaType::Json),
            "application/vnd.pgrst.array+json" | "application/vnd.pgrst.array" => {
                return Ok(if *stripped {
                    MediaType::JsonStripped
                } else {
                    MediaType::Json
                });
            }
            "application/vnd.pgrst.object+json" | "application/vnd.pgrst.object" => {
                return Ok(MediaType::SingularJson {
                    stripped: *stripped,
                });
            }
            "text/csv" | "text/*" => return Ok(MediaType::Csv),
            "application/openapi+json" => return Ok(MediaType::OpenApi),
            _ => {}
        }
    }
    let names: Vec<&str> = offered.iter().map(|(_, _, t, _)| t.as_str()).collect();
    Err(none_available(&names))
}

fn none_available(types: &[&str]) -> Error {
    Error::new(
        ErrorKind::NotAcceptable,
        format!(
            "None of these media types are available: {}",
            types.join(", ")
        ),
    )
    .with_postgrest_code("PGRST107")
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
        let err = accept("foo/bar, text/html;q=0.5").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotAcceptable);
        assert_eq!(
            err.message(),
            "None of these media types are available: foo/bar, text/html"
        );
    }
}
