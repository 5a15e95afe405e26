//! [`ResponseFuture`], the future of [`RestService`](crate::RestService).

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Response;

use crate::body::RestBody;

/// The future of [`RestService`](crate::RestService): one allocation per request.
pub struct ResponseFuture {
    pub(crate) inner: Pin<Box<dyn Future<Output = Result<Response<RestBody>, Infallible>> + Send>>,
}

impl Future for ResponseFuture {
    type Output = Result<Response<RestBody>, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

impl fmt::Debug for ResponseFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
