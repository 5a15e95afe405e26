//! Keys fetched from a JWKS URL and kept fresh:
//! [`JwtAuthLayer::jwks_url`](super::JwtAuthLayer::jwks_url).
//!
//! The document is read once when the layer is built (a URL that does not
//! answer with a usable key set is a startup error), then again on an interval
//! (shortened by the answer's `Cache-Control: max-age`, asked conditionally
//! with its `ETag` and `Last-Modified`), and when a token names a `kid` that
//! no current key has, at most once per
//! [`jwks_min_refetch`](super::JwtAuthLayer::jwks_min_refetch) so that made-up
//! `kid`s cannot make the server hammer the identity provider. A new document
//! replaces the keys as a whole, so a key the provider removed stops verifying,
//! and the verified-token cache is keyed by the key set's generation, so what
//! it kept from the old keys is not trusted again. A failed refresh keeps the
//! current keys and is logged.
//!
//! The HTTP client is hyper-util's, over rustls with the system's roots
//! (hyper-rustls); this module only decides when to ask and what the answer
//! means. Plain `http://` is accepted for loopback hosts only: keys read over
//! an unauthenticated channel from elsewhere could be anyone's.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, StatusCode, Uri, header};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::sync::Notify;

use super::keys::{KeySet, config_error, parse_jwks};
use crate::error::Error;

/// The longest a fetch (answer and body) may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest document read; a key set is a few kilobytes.
const MAX_DOCUMENT: usize = 1 << 20;
/// How often the document is read again, unless set otherwise.
pub(super) const DEFAULT_REFRESH: Duration = Duration::from_secs(300);
/// The least time between fetches that unknown `kid`s cause, unless set otherwise.
pub(super) const DEFAULT_MIN_REFETCH: Duration = Duration::from_secs(10);
/// The soonest a short `max-age` brings the next refresh.
const SHORTEST_MAX_AGE: Duration = Duration::from_secs(1);

type HttpsClient = Client<HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// Keys from a URL: the latest set, where it comes from, and when it was
/// last asked for.
pub(super) struct Remote {
    /// The latest key set read.
    pub(super) keys: Arc<ArcSwap<KeySet>>,
    url: Uri,
    client: HttpsClient,
    refresh_ms: AtomicU64,
    min_refetch_ms: AtomicU64,
    /// The last answer's `max-age`, in milliseconds (0: none).
    max_age_ms: AtomicU64,
    /// When the last fetch began, in milliseconds since `epoch`.
    last_fetch_ms: AtomicU64,
    epoch: Instant,
    /// Wakes the refresher when its interval changes.
    interval_changed: Arc<Notify>,
    /// Held while fetching, so fetches never overlap.
    state: tokio::sync::Mutex<Validators>,
}

/// What the last answer said, to ask conditionally next time.
#[derive(Default)]
struct Validators {
    etag: Option<HeaderValue>,
    last_modified: Option<HeaderValue>,
    document: Bytes,
}

fn fetch_error(message: impl Into<String>) -> Error {
    config_error(message)
}

impl Remote {
    fn since_last_fetch(&self) -> Duration {
        let now = self.epoch.elapsed();
        now.saturating_sub(Duration::from_millis(
            self.last_fetch_ms.load(Ordering::Acquire),
        ))
    }

    /// When the refresher should next read the document, from now.
    fn next_refresh_in(&self) -> Duration {
        let mut every = Duration::from_millis(self.refresh_ms.load(Ordering::Acquire));
        let max_age = self.max_age_ms.load(Ordering::Acquire);
        if max_age > 0 {
            every = every.min(Duration::from_millis(max_age).max(SHORTEST_MAX_AGE));
        }
        every.saturating_sub(self.since_last_fetch())
    }

    pub(super) fn set_refresh(&self, every: Duration) {
        let ms = u64::try_from(every.as_millis()).unwrap_or(u64::MAX).max(1);
        self.refresh_ms.store(ms, Ordering::Release);
        self.interval_changed.notify_one();
    }

    pub(super) fn set_min_refetch(&self, every: Duration) {
        let ms = u64::try_from(every.as_millis()).unwrap_or(u64::MAX);
        self.min_refetch_ms.store(ms, Ordering::Release);
    }
}

/// The URL, if it is one the keys may be read from.
fn checked_url(url: &str) -> Result<Uri, Error> {
    let uri: Uri = url
        .parse()
        .map_err(|e| fetch_error("The JWKS URL is not a valid URL").with_source(e))?;
    let loopback = matches!(
        uri.host(),
        Some("localhost" | "127.0.0.1" | "[::1]" | "::1")
    );
    match uri.scheme_str() {
        Some("https") => Ok(uri),
        Some("http") if loopback => Ok(uri),
        _ => Err(fetch_error("The JWKS URL must be https")
            .with_details("Plain http is accepted only from a loopback host")),
    }
}

/// Reads the key set at `url` and starts refreshing it in the background
/// (a task that ends when the last layer or service holding the keys is dropped).
pub(super) async fn connect(url: &str) -> Result<Arc<Remote>, Error> {
    let url = checked_url(url)?;
    let builder = hyper_rustls::HttpsConnectorBuilder::new();
    let builder = if url.scheme_str() == Some("https") {
        builder.with_tls_config(crate::db::tls::verified_by_system_roots()?)
    } else {
        // Never used: the URL is plain http to this machine.
        builder.with_tls_config(
            rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .map_err(|e| fetch_error("Could not set up TLS").with_source(e))?
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth(),
        )
    };
    let connector = builder.https_or_http().enable_http1().build();
    let client = Client::builder(TokioExecutor::new()).build(connector);
    let interval_changed = Arc::new(Notify::new());
    let remote = Arc::new(Remote {
        keys: Arc::new(ArcSwap::from_pointee(KeySet {
            keys: Vec::new(),
            generation: 0,
        })),
        url,
        client,
        refresh_ms: AtomicU64::new(DEFAULT_REFRESH.as_millis() as u64),
        min_refetch_ms: AtomicU64::new(DEFAULT_MIN_REFETCH.as_millis() as u64),
        max_age_ms: AtomicU64::new(0),
        last_fetch_ms: AtomicU64::new(0),
        epoch: Instant::now(),
        interval_changed: Arc::clone(&interval_changed),
        state: tokio::sync::Mutex::new(Validators::default()),
    });
    fetch(&remote, &mut *remote.state.lock().await).await?;
    if remote.keys.load().keys.is_empty() {
        return Err(fetch_error("The JWKS document has no usable key"));
    }
    tokio::spawn(refresh(Arc::downgrade(&remote), interval_changed));
    Ok(remote)
}

/// Reads the document again whenever it is due, for as long as anyone holds the keys.
async fn refresh(remote: Weak<Remote>, interval_changed: Arc<Notify>) {
    loop {
        let Some(due_in) = remote.upgrade().map(|r| r.next_refresh_in()) else {
            return;
        };
        if !due_in.is_zero() {
            tokio::select! {
                () = tokio::time::sleep(due_in) => {}
                () = interval_changed.notified() => {}
            }
            continue;
        }
        let Some(remote) = remote.upgrade() else {
            return;
        };
        let mut state = remote.state.lock().await;
        // Another fetch (for an unknown `kid`) may have come first.
        if remote.next_refresh_in().is_zero() {
            if let Err(e) = fetch(&remote, &mut state).await {
                tracing::warn!(url = %remote.url, error = %e, "JWKS refresh failed; the current keys stay");
            }
        }
    }
}

/// Whether `token` names a key the current set lacks and a fetch may be made for it now.
pub(super) fn wants_refetch(remote: &Remote, token: &str) -> bool {
    let Some(kid) = jsonwebtoken::decode_header(token).ok().and_then(|h| h.kid) else {
        return false;
    };
    let known = remote
        .keys
        .load()
        .keys
        .iter()
        .any(|k| k.kid.as_deref() == Some(kid.as_str()));
    !known
        && remote.since_last_fetch()
            >= Duration::from_millis(remote.min_refetch_ms.load(Ordering::Acquire))
}

/// Fetches the keys for a token whose `kid` is unknown, unless another
/// request has just done so.
pub(super) async fn refetch(remote: &Remote) {
    let mut state = remote.state.lock().await;
    let limit = Duration::from_millis(remote.min_refetch_ms.load(Ordering::Acquire));
    if remote.since_last_fetch() < limit {
        return;
    }
    if let Err(e) = fetch(remote, &mut state).await {
        tracing::warn!(url = %remote.url, error = %e, "JWKS fetch for an unknown kid failed");
    }
}

/// One conditional GET of the document; a changed document replaces the keys.
async fn fetch(remote: &Remote, state: &mut Validators) -> Result<(), Error> {
    let started = u64::try_from(remote.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
    remote.last_fetch_ms.store(started, Ordering::Release);
    let mut req = Request::get(remote.url.clone()).header(
        header::ACCEPT,
        HeaderValue::from_static("application/jwk-set+json, application/json"),
    );
    if !state.document.is_empty() {
        if let Some(etag) = &state.etag {
            req = req.header(header::IF_NONE_MATCH, etag.clone());
        }
        if let Some(modified) = &state.last_modified {
            req = req.header(header::IF_MODIFIED_SINCE, modified.clone());
        }
    }
    let req = req
        .body(Empty::new())
        .map_err(|e| fetch_error("Could not make the JWKS request").with_source(e))?;
    let exchange = async {
        let res = remote
            .client
            .request(req)
            .await
            .map_err(|e| fetch_error("The JWKS URL did not answer").with_source(e))?;
        let status = res.status();
        let headers = res.headers().clone();
        if status == StatusCode::NOT_MODIFIED && !state.document.is_empty() {
            return Ok((headers, None));
        }
        if status != StatusCode::OK {
            return Err(fetch_error(format!("The JWKS URL answered {status}")));
        }
        let body = Limited::new(res.into_body(), MAX_DOCUMENT)
            .collect()
            .await
            .map_err(|e| fetch_error(format!("Could not read the JWKS document: {e}")))?
            .to_bytes();
        Ok((headers, Some(body)))
    };
    let (headers, body) = tokio::time::timeout(FETCH_TIMEOUT, exchange)
        .await
        .map_err(|_| fetch_error("The JWKS URL did not answer in time"))??;
    let max_age = max_age(&headers).map_or(0, |d| d.as_millis().max(1) as u64);
    remote.max_age_ms.store(max_age, Ordering::Release);
    let Some(body) = body else { return Ok(()) };
    if body != state.document {
        let text = std::str::from_utf8(&body)
            .map_err(|e| fetch_error("The JWKS document is not UTF-8").with_source(e))?;
        // A key published at a URL is public: a shared secret there would
        // let anyone who reads it sign tokens. Only asymmetric keys count.
        let (secrets, parsed): (Vec<_>, Vec<_>) = parse_jwks(text)?
            .into_iter()
            .partition(|k| k.is_shared_secret());
        if !secrets.is_empty() {
            tracing::warn!(url = %remote.url, ignored = secrets.len(), "the JWKS URL publishes shared-secret (oct) keys; they are ignored");
        }
        if parsed.is_empty() {
            return Err(fetch_error("The JWKS document has no usable key").with_details(
                "A JWKS URL may publish asymmetric keys only (RSA, EC, OKP); shared secrets (oct) are ignored",
            ));
        }
        let generation = remote.keys.load().generation + 1;
        remote.keys.store(Arc::new(KeySet {
            keys: parsed,
            generation,
        }));
        state.document = body;
    }
    state.etag = headers.get(header::ETAG).cloned();
    state.last_modified = headers.get(header::LAST_MODIFIED).cloned();
    Ok(())
}

/// `Cache-Control: max-age=N` of an answer (none under `no-store` or `no-cache`).
fn max_age(headers: &HeaderMap) -> Option<Duration> {
    let mut age = None;
    for directive in headers
        .get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
    {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-store" || lower == "no-cache" {
            return None;
        }
        if let Some(n) = lower.strip_prefix("max-age=") {
            age = n
                .trim_matches('"')
                .parse::<u64>()
                .ok()
                .map(Duration::from_secs);
        }
    }
    age
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http() {
        assert!(checked_url("https://example.com/.well-known/jwks.json").is_ok());
        assert!(checked_url("http://127.0.0.1:8080/jwks").is_ok());
        assert!(checked_url("http://localhost/jwks").is_ok());
        let e = checked_url("http://example.com/jwks").unwrap_err();
        assert_eq!(e.message(), "The JWKS URL must be https");
        assert!(checked_url("ftp://example.com/jwks").is_err());
        assert!(checked_url("not a url").is_err());
    }

    #[test]
    fn max_age_is_read_from_cache_control() {
        let mut h = HeaderMap::new();
        assert_eq!(max_age(&h), None);
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=120, must-revalidate"),
        );
        assert_eq!(max_age(&h), Some(Duration::from_secs(120)));
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store, max-age=120"),
        );
        assert_eq!(max_age(&h), None);
    }
}
