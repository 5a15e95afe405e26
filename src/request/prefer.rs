//! The `Prefer` header (RFC 7240), with PostgREST's preferences.

use http::HeaderMap;
use http::header::HeaderName;

use crate::error::{Error, ErrorKind};

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

/// `Prefer: return=…`
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Return {
    #[default]
    Minimal,
    HeadersOnly,
    Representation,
}

impl Return {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Minimal => "return=minimal",
            Self::HeadersOnly => "return=headers-only",
            Self::Representation => "return=representation",
        }
    }
}

/// `Prefer: resolution=…`
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Resolution {
    MergeDuplicates,
    IgnoreDuplicates,
}

impl Resolution {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::MergeDuplicates => "resolution=merge-duplicates",
            Self::IgnoreDuplicates => "resolution=ignore-duplicates",
        }
    }
}

/// `Prefer: tx=…`
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TxEnd {
    Commit,
    Rollback,
}

impl TxEnd {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Commit => "tx=commit",
            Self::Rollback => "tx=rollback",
        }
    }
}

/// The preferences of a request. Of repeated ones, the first wins; unknown ones
/// are ignored, unless `handling=strict` is among them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Preferences {
    pub(crate) count: Option<Count>,
    /// `None` when not given (the default, minimal, applies).
    pub(crate) return_: Option<Return>,
    pub(crate) resolution: Option<Resolution>,
    /// `missing=default`
    pub(crate) missing_default: bool,
    /// `handling=strict`
    pub(crate) strict: bool,
    pub(crate) max_affected: Option<i64>,
    pub(crate) tx: Option<TxEnd>,
}

const PREFER: HeaderName = HeaderName::from_static("prefer");

/// Parses every `Prefer` header: comma-separated `name=value` tokens.
pub(crate) fn parse_prefer(headers: &HeaderMap) -> Result<Preferences, Error> {
    let mut prefs = Preferences::default();
    let mut unknown = Vec::new();
    let mut missing_seen = false;
    let mut handling_seen = false;
    for value in headers.get_all(PREFER) {
        let Ok(value) = value.to_str() else { continue };
        for token in value.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            match token {
                "count=exact" | "count=planned" | "count=estimated" => {
                    prefs.count.get_or_insert(match token {
                        "count=exact" => Count::Exact,
                        "count=planned" => Count::Planned,
                        _ => Count::Estimated,
                    });
                }
                "return=minimal" | "return=headers-only" | "return=representation" => {
                    prefs.return_.get_or_insert(match token {
                        "return=minimal" => Return::Minimal,
                        "return=headers-only" => Return::HeadersOnly,
                        _ => Return::Representation,
                    });
                }
                "resolution=merge-duplicates" | "resolution=ignore-duplicates" => {
                    prefs
                        .resolution
                        .get_or_insert(if token.ends_with("merge-duplicates") {
                            Resolution::MergeDuplicates
                        } else {
                            Resolution::IgnoreDuplicates
                        });
                }
                "missing=default" | "missing=null" => {
                    if !missing_seen {
                        prefs.missing_default = token == "missing=default";
                        missing_seen = true;
                    }
                }
                "handling=strict" | "handling=lenient" => {
                    if !handling_seen {
                        prefs.strict = token == "handling=strict";
                        handling_seen = true;
                    }
                }
                "tx=commit" | "tx=rollback" => {
                    prefs.tx.get_or_insert(if token == "tx=commit" {
                        TxEnd::Commit
                    } else {
                        TxEnd::Rollback
                    });
                }
                _ => match token.strip_prefix("max-affected=").map(str::parse::<i64>) {
                    Some(Ok(n)) if n >= 0 => {
                        prefs.max_affected.get_or_insert(n);
                    }
                    _ => unknown.push(token.to_owned()),
                },
            }
        }
    }
    if prefs.strict && !unknown.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidRequest,
            "Invalid preferences given with handling=strict",
        )
        .with_details(format!("Invalid preferences: {}", unknown.join(", ")))
        .with_postgrest_code("PGRST122"));
    }
    Ok(prefs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefer(values: &[&str]) -> Result<Preferences, Error> {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(PREFER, v.parse().unwrap());
        }
        parse_prefer(&h)
    }

    #[test]
    fn first_occurrence_wins() {
        assert_eq!(prefer(&[]).unwrap(), Preferences::default());
        let p = prefer(&[
            "return=minimal, count=planned",
            "count=exact, return=representation",
        ])
        .unwrap();
        assert_eq!(p.count, Some(Count::Planned));
        assert_eq!(p.return_, Some(Return::Minimal));
    }

    #[test]
    fn every_preference() {
        let p = prefer(&[
            "return=representation,resolution=ignore-duplicates,missing=default,handling=strict,max-affected=5,tx=rollback",
        ])
        .unwrap();
        assert_eq!(p.return_, Some(Return::Representation));
        assert_eq!(p.resolution, Some(Resolution::IgnoreDuplicates));
        assert!(p.missing_default && p.strict);
        assert_eq!(p.max_affected, Some(5));
        assert_eq!(p.tx, Some(TxEnd::Rollback));
    }

    #[test]
    fn unknown_preferences_fail_only_when_strict() {
        assert!(prefer(&["foo=bar, return=minimal"]).is_ok());
        let err = prefer(&["handling=strict, foo=bar"]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest);
        assert_eq!(err.details(), Some("Invalid preferences: foo=bar"));
    }
}
