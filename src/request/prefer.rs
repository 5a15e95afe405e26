//! The `Prefer` header (RFC 7240), with PostgREST's preferences.

use http::HeaderMap;
use http::header::HeaderName;

use crate::error::{Error, codes};

/// `Prefer: count=…`
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Count {
    Exact,
    Planned,
    Estimated,
}

impl Count {
    /// The token that asks for it (also its `Preference-Applied` text).
    pub(crate) fn as_str(self) -> &'static str {
        token_of(Preference::Count(self))
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
    /// The token that asks for it (also its `Preference-Applied` text).
    pub(crate) fn as_str(self) -> &'static str {
        token_of(Preference::Return(self))
    }
}

/// `Prefer: resolution=…`
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Resolution {
    MergeDuplicates,
    IgnoreDuplicates,
}

impl Resolution {
    /// The token that asks for it (also its `Preference-Applied` text).
    pub(crate) fn as_str(self) -> &'static str {
        token_of(Preference::Resolution(self))
    }
}

/// `Prefer: tx=…`
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TxEnd {
    Commit,
    Rollback,
}

impl TxEnd {
    /// The token that asks for it (also its `Preference-Applied` text).
    pub(crate) fn as_str(self) -> &'static str {
        token_of(Preference::Tx(self))
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
    /// `handling=lenient`, named (PostgREST echoes it).
    pub(crate) lenient: bool,
    pub(crate) max_affected: Option<i64>,
    pub(crate) tx: Option<TxEnd>,
    /// `timezone=<name>`, as given (checked against the database's zones by the planner).
    pub(crate) timezone: Option<String>,
}

const PREFER: HeaderName = HeaderName::from_static("prefer");

/// What a known `Prefer` token asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Preference {
    Count(Count),
    Return(Return),
    Resolution(Resolution),
    /// `missing=default` (true) or `missing=null`.
    Missing {
        default: bool,
    },
    /// `handling=strict` (true) or `handling=lenient`.
    Handling {
        strict: bool,
    },
    Tx(TxEnd),
}

/// Every `Prefer` token with a fixed spelling and what it asks for
/// (`max-affected=<n>` takes a number, so it is read apart).
const PREFERENCES: &[(&str, Preference)] = {
    use Preference as P;
    &[
        ("count=exact", P::Count(Count::Exact)),
        ("count=planned", P::Count(Count::Planned)),
        ("count=estimated", P::Count(Count::Estimated)),
        ("return=minimal", P::Return(Return::Minimal)),
        ("return=headers-only", P::Return(Return::HeadersOnly)),
        ("return=representation", P::Return(Return::Representation)),
        (
            "resolution=merge-duplicates",
            P::Resolution(Resolution::MergeDuplicates),
        ),
        (
            "resolution=ignore-duplicates",
            P::Resolution(Resolution::IgnoreDuplicates),
        ),
        ("missing=default", P::Missing { default: true }),
        ("missing=null", P::Missing { default: false }),
        ("handling=strict", P::Handling { strict: true }),
        ("handling=lenient", P::Handling { strict: false }),
        ("tx=commit", P::Tx(TxEnd::Commit)),
        ("tx=rollback", P::Tx(TxEnd::Rollback)),
    ]
};

/// The token of `pref` (empty if it has none; the tests check that each has one).
fn token_of(pref: Preference) -> &'static str {
    PREFERENCES
        .iter()
        .find(|(_, p)| *p == pref)
        .map_or("", |(token, _)| token)
}

/// Parses every `Prefer` header: comma-separated `name=value` tokens.
pub(crate) fn parse_prefer(headers: &HeaderMap) -> Result<Preferences, Error> {
    let mut prefs = Preferences::default();
    let mut unknown = Vec::new();
    let mut missing = None;
    let mut handling = None;
    for value in headers.get_all(PREFER) {
        let Ok(value) = value.to_str() else { continue };
        for token in value.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            match PREFERENCES
                .iter()
                .find(|(t, _)| *t == token)
                .map(|(_, p)| *p)
            {
                Some(Preference::Count(c)) => {
                    prefs.count.get_or_insert(c);
                }
                Some(Preference::Return(r)) => {
                    prefs.return_.get_or_insert(r);
                }
                Some(Preference::Resolution(r)) => {
                    prefs.resolution.get_or_insert(r);
                }
                Some(Preference::Tx(t)) => {
                    prefs.tx.get_or_insert(t);
                }
                Some(Preference::Missing { default }) => {
                    missing.get_or_insert(default);
                }
                Some(Preference::Handling { strict }) => {
                    handling.get_or_insert(strict);
                }
                None => {
                    if let Some(zone) = token.strip_prefix("timezone=") {
                        prefs.timezone.get_or_insert_with(|| zone.to_owned());
                        continue;
                    }
                    match token.strip_prefix("max-affected=").map(str::parse::<i64>) {
                        Some(Ok(n)) if n >= 0 => {
                            prefs.max_affected.get_or_insert(n);
                        }
                        _ => unknown.push(token),
                    }
                }
            }
        }
    }
    prefs.missing_default = missing.unwrap_or(false);
    prefs.strict = handling.unwrap_or(false);
    prefs.lenient = handling == Some(false);
    if prefs.strict && !unknown.is_empty() {
        return Err(Error::pgrst(
            codes::PGRST122,
            "Invalid preferences given with handling=strict",
        )
        .with_details(format!("Invalid preferences: {}", unknown.join(", "))));
    }
    Ok(prefs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

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
    fn every_token_parses_to_its_row_and_back() {
        for (i, (token, pref)) in PREFERENCES.iter().enumerate() {
            assert!(
                PREFERENCES[..i]
                    .iter()
                    .all(|(t, p)| t != token && p != pref)
            );
            assert_eq!(token_of(*pref), *token);
            let p = prefer(&[token]).unwrap();
            let got = match pref {
                Preference::Count(_) => p.count.map(Preference::Count),
                Preference::Return(_) => p.return_.map(Preference::Return),
                Preference::Resolution(_) => p.resolution.map(Preference::Resolution),
                Preference::Tx(_) => p.tx.map(Preference::Tx),
                Preference::Missing { .. } => Some(Preference::Missing {
                    default: p.missing_default,
                }),
                Preference::Handling { .. } => Some(Preference::Handling { strict: p.strict }),
            };
            assert_eq!(got, Some(*pref), "{token}");
        }
        for c in [Count::Exact, Count::Planned, Count::Estimated] {
            assert!(c.as_str().starts_with("count="));
        }
        for r in [Return::Minimal, Return::HeadersOnly, Return::Representation] {
            assert!(r.as_str().starts_with("return="));
        }
        for r in [Resolution::MergeDuplicates, Resolution::IgnoreDuplicates] {
            assert!(r.as_str().starts_with("resolution="));
        }
        for t in [TxEnd::Commit, TxEnd::Rollback] {
            assert!(t.as_str().starts_with("tx="));
        }
    }

    #[test]
    fn first_missing_and_handling_win() {
        let p = prefer(&[
            "missing=null, missing=default",
            "handling=lenient,handling=strict,x",
        ])
        .unwrap();
        assert!(!p.missing_default && !p.strict);
        let p = prefer(&["missing=default,missing=null,handling=strict,handling=lenient"]);
        assert!(p.is_ok_and(|p| p.missing_default && p.strict));
    }

    #[test]
    fn unknown_preferences_fail_only_when_strict() {
        assert!(prefer(&["foo=bar, return=minimal"]).is_ok());
        let err = prefer(&["handling=strict, foo=bar"]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest);
        assert_eq!(err.details(), Some("Invalid preferences: foo=bar"));
    }
}
