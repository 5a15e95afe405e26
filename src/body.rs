//! [`RestBody`], the response body of every service in this crate, and the
//! collecting of request bodies under the configured limit.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};

use crate::error::{BoxError, Error, ErrorKind};

/// The response body: the whole payload, built by PostgreSQL, in one buffer.
///
/// ```
/// use http_body::Body;
/// use tower_postgrest::RestBody;
///
/// let body = RestBody::from("[]");
/// assert_eq!(body.size_hint().exact(), Some(2));
/// assert!(RestBody::empty().is_end_stream());
/// ```
#[derive(Debug, Default)]
pub struct RestBody(Full<Bytes>);

impl RestBody {
    /// An empty body.
    pub fn empty() -> Self {
        Self(Full::new(Bytes::new()))
    }
}

impl<T: Into<Bytes>> From<T> for RestBody {
    fn from(bytes: T) -> Self {
        Self(Full::new(bytes.into()))
    }
}

impl Body for RestBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.get_mut().0).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.0.size_hint()
    }
}

/// Collects a request body, refusing one over `limit` bytes (413) without
/// reading more than `limit` of it.
pub(crate) async fn collect<B>(body: B, limit: usize) -> Result<Bytes, Error>
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<LengthLimitError>() => Err(Error::new(
            ErrorKind::PayloadTooLarge,
            format!("The request body is larger than the limit of {limit} bytes"),
        )),
        Err(e) => Err(Error::new(
            ErrorKind::InvalidRequest,
            "The request body could not be read",
        )
        .with_source(e)),
    }
}
