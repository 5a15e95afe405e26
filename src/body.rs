//! [`RestBody`], the response body of every service in this crate.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::Full;

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
