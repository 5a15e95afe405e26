//! The `Prefer` header (RFC 7240), with PostgREST's preferences.

use http::HeaderMap;
use http::header::HeaderName;

/// `Prefer: count=…`
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Count {
    Exact,
    Planned,
    Estimated,
}

impl Count {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Exact => "count=exact",
            Self::Planned => "count=planned",
            Self::Estimated => "count=estimated",
        }
    }
}

/// The preferences of a request. Unknown ones are ignored; of repeated ones, the first wins.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Preferences {
    pub(crate) count: Option<Count>,
}

const PREFER: HeaderName = HeaderName::from_static("prefer");

/// Parses every `Prefer` header: comma-separated `name=value` tokens.
pub(crate) fn parse_prefer(headers: &HeaderMap) -> Preferences {
    let mut prefs = Preferences::default();
    for value in headers.get_all(PREFER) {
        let Ok(value) = value.to_str() else { continue };
        for token in value.split(',') {
            let token = token.trim();
            let count = match token {
                "count=exact" => Some(Count::Exact),
                "count=planned" => Some(Count::Planned),
                "count=estimated" => Some(Count::Estimated),
                _ => None,
            };
            if prefs.count.is_none() {
                prefs.count = count;
            }
        }
    }
    prefs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts() {
        let mut h = HeaderMap::new();
        assert_eq!(parse_prefer(&h).count, None);
        h.append(PREFER, "return=minimal, count=planned".parse().unwrap());
        h.append(PREFER, "count=exact".parse().unwrap());
        assert_eq!(parse_prefer(&h).count, Some(Count::Planned));
    }
}
