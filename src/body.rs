//! [`RestBody`], the response body of every service in this crate, and the
//! collecting of request bodies under the configured limit.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};

use crate::error::{BoxError, Error, ErrorKind};

/// The response body: the whole payload, built by PostgreSQL, in one buffer;
/// or, for a large read, the rows as PostgreSQL produces them.
///
/// A streamed body has no length (HTTP/1.1 sends it chunked). Should the
/// database fail after the first bytes went out, the body ends with an
/// [`Error`]: hyper then closes the connection without the last chunk (an
/// HTTP/2 stream is reset), which clients report as an incomplete response,
/// so a truncated document is never mistaken for a whole one.
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
pub struct RestBody(Inner);

#[derive(Debug)]
enum Inner {
    Full(Full<Bytes>),
    Stream {
        first: Option<Bytes>,
        rest: tokio::sync::mpsc::Receiver<StreamItem>,
        /// The producer said the document is whole.
        done: bool,
    },
}

/// What the producer of a streamed body sends: a chunk (`Ok(Some)`), the
/// end of a whole document (`Ok(None)`), or a failure. A producer that goes
/// away without saying the document is whole (it gave up on a client that
/// stopped reading, say) ends the body with an error, so the response is cut
/// off rather than ended as if complete.
pub(crate) type StreamItem = Result<Option<Bytes>, Error>;

impl Default for Inner {
    fn default() -> Self {
        Self::Full(Full::default())
    }
}

impl RestBody {
    /// An empty body.
    pub fn empty() -> Self {
        Self(Inner::Full(Full::new(Bytes::new())))
    }

    /// A body of `first`, then what `rest` sends until it closes.
    pub(crate) fn stream(first: Bytes, rest: tokio::sync::mpsc::Receiver<StreamItem>) -> Self {
        Self(Inner::Stream {
            first: Some(first),
            rest,
            done: false,
        })
    }
}

impl<T: Into<Bytes>> From<T> for RestBody {
    fn from(bytes: T) -> Self {
        Self(Inner::Full(Full::new(bytes.into())))
    }
}

impl Body for RestBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match &mut self.get_mut().0 {
            Inner::Full(full) => Pin::new(full)
                .poll_frame(cx)
                .map_err(|never| match never {}),
            Inner::Stream { first, rest, done } => {
                if let Some(first) = first.take() {
                    return Poll::Ready(Some(Ok(Frame::data(first))));
                }
                if *done {
                    return Poll::Ready(None);
                }
                rest.poll_recv(cx).map(|next| match next {
                    Some(Ok(Some(chunk))) => Some(Ok(Frame::data(chunk))),
                    Some(Ok(None)) => {
                        *done = true;
                        None
                    }
                    Some(Err(e)) => Some(Err(e)),
                    None => Some(Err(Error::new(
                        ErrorKind::Internal,
                        "The streamed response was cut short",
                    ))),
                })
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.0 {
            Inner::Full(full) => full.is_end_stream(),
            Inner::Stream { done, .. } => *done,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.0 {
            Inner::Full(full) => full.size_hint(),
            Inner::Stream { .. } => SizeHint::default(),
        }
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
