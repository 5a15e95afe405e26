//! The TLS settings of a connection string, read as libpq reads them.
//!
//! tokio-postgres parses `sslmode` only as `disable`, `prefer` or `require`
//! and refuses `verify-ca`, `verify-full` and `sslrootcert` as unknown. This
//! module takes those two parameters out of the string (in both the URL and
//! the `key=value` form, with the same quoting and percent-decoding rules),
//! hands the rest to tokio-postgres, and gives tokio-postgres the nearest mode
//! it knows (`require` for both `verify-*`), so that the TLS connector does
//! the verification and tokio-postgres only insists on TLS.

use std::path::PathBuf;

use crate::error::{Error, ErrorKind};

/// libpq's `sslmode`: whether TLS is used, and what is verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SslMode {
    /// Never TLS.
    Disable,
    /// TLS when the server offers it, plain otherwise; the certificate is not verified.
    Prefer,
    /// TLS or no connection; the certificate is not verified (unless an
    /// `sslrootcert` is given: then as [`VerifyCa`](Self::VerifyCa), as libpq).
    Require,
    /// TLS, with a certificate signed by a trusted root; any host name.
    VerifyCa,
    /// TLS, with a certificate signed by a trusted root and naming the host.
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Result<Self, Error> {
        Ok(match value {
            "disable" => Self::Disable,
            // libpq's `allow` tries plain first; over TLS-capable connectors
            // the nearest safe reading is `prefer`.
            "allow" | "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            other => {
                return Err(invalid(format!(
                    "sslmode must be disable, allow, prefer, require, verify-ca or verify-full, not {other:?}"
                )));
            }
        })
    }

    /// The mode tokio-postgres is told: whether TLS is tried, and whether it is required.
    pub(crate) fn transport(self) -> tokio_postgres::config::SslMode {
        use tokio_postgres::config::SslMode as T;
        match self {
            Self::Disable => T::Disable,
            Self::Prefer => T::Prefer,
            Self::Require | Self::VerifyCa | Self::VerifyFull => T::Require,
        }
    }
}

/// Where trusted roots come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Roots {
    /// The system's store.
    System,
    /// A PEM file (`sslrootcert=path`).
    File(PathBuf),
}

/// The TLS half of a connection string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TlsSettings {
    pub(crate) mode: SslMode,
    /// `sslrootcert`, when given.
    pub(crate) roots: Option<Roots>,
}

impl TlsSettings {
    /// What is verified, after libpq's rules: a root file makes `require`
    /// verify the chain, and `sslrootcert=system` needs `verify-full`.
    pub(crate) fn effective_mode(&self) -> Result<SslMode, Error> {
        match (&self.roots, self.mode) {
            (Some(Roots::System), SslMode::VerifyFull) => Ok(SslMode::VerifyFull),
            (Some(Roots::System), mode) => Err(invalid(format!(
                "sslrootcert=system needs sslmode=verify-full (or none), not {mode:?}"
            ))),
            (Some(Roots::File(_)), SslMode::Require) => Ok(SslMode::VerifyCa),
            (_, mode) => Ok(mode),
        }
    }
}

/// The connection string without its TLS parameters, and those parameters.
pub(crate) fn split(conninfo: &str) -> Result<(tokio_postgres::Config, TlsSettings), Error> {
    let mut mode = None;
    let mut roots = None;
    let mut take = |key: &str, value: &str| -> Result<bool, Error> {
        match key {
            "sslmode" => mode = Some(SslMode::parse(value)?),
            "sslrootcert" => {
                roots = Some(if value == "system" {
                    Roots::System
                } else {
                    Roots::File(PathBuf::from(value))
                })
            }
            _ => return Ok(false),
        }
        Ok(true)
    };
    let rest = match url_params(conninfo) {
        Some((head, params)) => {
            let mut kept = Vec::new();
            for param in params.split('&').filter(|p| !p.is_empty()) {
                let (key, value) = param.split_once('=').unwrap_or((param, ""));
                if !take(&decode(key)?, &decode(value)?)? {
                    kept.push(param);
                }
            }
            if kept.is_empty() {
                head.to_owned()
            } else {
                format!("{head}?{}", kept.join("&"))
            }
        }
        None => {
            let mut rest = String::with_capacity(conninfo.len());
            for (span, key, value) in key_values(conninfo)? {
                if !take(key, &value)? {
                    rest.push_str(&conninfo[span.0..span.1]);
                    rest.push(' ');
                }
            }
            rest
        }
    };
    let settings = TlsSettings {
        // As libpq: `sslrootcert=system` alone means `verify-full`.
        mode: mode.unwrap_or(if roots == Some(Roots::System) {
            SslMode::VerifyFull
        } else {
            SslMode::Prefer
        }),
        roots,
    };
    let mut config: tokio_postgres::Config = rest.parse().map_err(|e| {
        Error::new(ErrorKind::Internal, "Invalid database connection string").with_source(e)
    })?;
    config.ssl_mode(settings.effective_mode()?.transport());
    Ok((config, settings))
}

fn invalid(details: String) -> Error {
    Error::new(ErrorKind::Internal, "Invalid database connection string").with_details(details)
}

/// A URL's part before `?` and its parameters, when `conninfo` is a URL.
fn url_params(conninfo: &str) -> Option<(&str, &str)> {
    let is_url = ["postgres://", "postgresql://"]
        .iter()
        .any(|prefix| conninfo.starts_with(prefix));
    is_url.then(|| conninfo.split_once('?').unwrap_or((conninfo, "")))
}

fn decode(s: &str) -> Result<String, Error> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| invalid("a parameter is not valid UTF-8 once percent-decoded".into()))
}

/// A `key = value` pair: its byte span, its key, its unquoted value.
type Pair<'a> = ((usize, usize), &'a str, String);

/// The `key = value` pairs of libpq's keyword form: each pair's byte span,
/// its key, and its value unquoted (`'…'` with `\` escapes, or a run of
/// non-space characters with `\` escapes).
fn key_values(s: &str) -> Result<Vec<Pair<'_>>, Error> {
    let mut out = Vec::new();
    let mut chars = s.char_indices().peekable();
    loop {
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let Some(&(start, _)) = chars.peek() else {
            return Ok(out);
        };
        let mut key_end = start;
        while let Some((i, c)) = chars.next_if(|(_, c)| !c.is_whitespace() && *c != '=') {
            key_end = i + c.len_utf8();
        }
        let key = &s[start..key_end];
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        if chars.next_if(|(_, c)| *c == '=').is_none() {
            return Err(invalid(format!("expected = after {key:?}")));
        }
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        let quoted = chars.next_if(|(_, c)| *c == '\'').is_some();
        let mut end = s.len();
        let mut closed = !quoted;
        while let Some(&(i, c)) = chars.peek() {
            if (quoted && c == '\'') || (!quoted && c.is_whitespace()) {
                if quoted {
                    chars.next();
                    closed = true;
                    end = i + 1;
                } else {
                    end = i;
                }
                break;
            }
            chars.next();
            if c == '\\' {
                if let Some((_, escaped)) = chars.next() {
                    value.push(escaped);
                }
            } else {
                value.push(c);
            }
        }
        if !closed {
            return Err(invalid(format!(
                "the quoted value of {key:?} is not closed"
            )));
        }
        out.push(((start, end), key, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(s: &str) -> (tokio_postgres::Config, TlsSettings) {
        split(s).unwrap()
    }

    #[test]
    fn urls() {
        let (config, tls) = settings(
            "postgres://u:p%3Fw@db.example.com:6543/app?sslmode=verify-full&application_name=x&sslrootcert=%2Ftmp%2Fca.pem",
        );
        assert_eq!(tls.mode, SslMode::VerifyFull);
        assert_eq!(tls.roots, Some(Roots::File("/tmp/ca.pem".into())));
        assert_eq!(config.get_application_name(), Some("x"));
        assert_eq!(config.get_password(), Some(&b"p?w"[..]));
        assert_eq!(
            config.get_ssl_mode(),
            tokio_postgres::config::SslMode::Require
        );

        let (config, tls) = settings("postgresql://localhost/app");
        assert_eq!(tls.mode, SslMode::Prefer);
        assert_eq!(config.get_dbname(), Some("app"));
        let (_, tls) = settings("postgres://localhost/app?sslmode=disable");
        assert_eq!(tls.effective_mode().unwrap(), SslMode::Disable);
    }

    #[test]
    fn key_value_form() {
        let (config, tls) =
            settings(r"host=db port = 5433 sslmode='verify-ca' sslrootcert=/a\ b.pem dbname=app");
        assert_eq!(tls.mode, SslMode::VerifyCa);
        assert_eq!(tls.roots, Some(Roots::File("/a b.pem".into())));
        assert_eq!(config.get_ports(), &[5433]);
        assert_eq!(config.get_dbname(), Some("app"));
        let (config, _) = settings(r"host=db password='a\'b c' user=me");
        assert_eq!(config.get_password(), Some(&b"a'b c"[..]));
        assert_eq!(config.get_user(), Some("me"));
    }

    #[test]
    fn libpq_rules() {
        let (_, tls) = settings("host=db sslmode=require sslrootcert=/ca.pem");
        assert_eq!(tls.effective_mode().unwrap(), SslMode::VerifyCa);
        assert!(split("host=db sslmode=require sslrootcert=system").is_err());
        let (_, tls) = settings("host=db sslrootcert=system");
        assert_eq!(tls.effective_mode().unwrap(), SslMode::VerifyFull);
        for bad in [
            "host=db sslmode=sometimes",
            "host=db sslrootcert='unclosed",
            "host=db sslmode",
        ] {
            assert!(split(bad).is_err(), "{bad}");
        }
    }
}
