//! A connection's socket, shared between tokio-postgres and the one-`Sync` path.
//!
//! tokio-postgres ends every statement with a `Sync`, so a request that it
//! pipelines is four protocol cycles: `BEGIN`, the context, the statement and
//! `COMMIT`, each answered and flushed on its own. A request that commits
//! whatever its result needs none of that. Its context and statement, sent as
//! `Bind`/`Execute` pairs before a single `Sync`, run in PostgreSQL's implicit
//! transaction: the `set_config(…, true)` settings last exactly until the
//! `Sync`, an error anywhere (including at commit) rolls everything back, and
//! a read makes itself read-only in its context statement. That is the same
//! transaction with two statements fewer and one flush instead of four.
//!
//! tokio-postgres cannot send that, so the pool opens the sockets itself
//! (TLS included, opened where the pool connects) and hands tokio-postgres a
//! [`Wire`]: the plaintext stream behind a lock, with a switch.
//! While a request holds the connection it turns the switch, and
//! tokio-postgres's connection task sees a socket that is never ready. The
//! request writes its messages, reads the answers up to `ReadyForQuery`, and
//! hands the socket back.
//!
//! The switch only turns while tokio-postgres is quiet on the socket: the
//! wire follows the message boundaries in both directions and counts the
//! `Sync`s and `Query`s tokio-postgres wrote against the `ReadyForQuery`s it
//! read. tokio-postgres can still have work queued that it has not written
//! (a dropped statement's `Close`): that waits, parked, until the request is
//! done. When the socket is not quiet, the request goes through tokio-postgres.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};

/// The TLS stream over a TCP socket.
#[cfg(feature = "rustls")]
pub(crate) type TlsStream =
    <tokio_postgres_rustls::MakeRustlsConnect as tokio_postgres::tls::MakeTlsConnect<
        tokio::net::TcpStream,
    >>::Stream;

/// A TCP or Unix-domain socket to PostgreSQL, or TLS over TCP.
pub(crate) enum Io {
    Tcp(TcpStream),
    Unix(UnixStream),
    #[cfg(feature = "rustls")]
    Tls(Box<TlsStream>),
}

impl std::fmt::Debug for Io {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Tcp(_) => "Io::Tcp",
            Self::Unix(_) => "Io::Unix",
            #[cfg(feature = "rustls")]
            Self::Tls(_) => "Io::Tls",
        })
    }
}

impl AsyncRead for Io {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Self::Unix(s) => Pin::new(s).poll_read(cx, buf),
            #[cfg(feature = "rustls")]
            Self::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Io {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Self::Unix(s) => Pin::new(s).poll_write(cx, buf),
            #[cfg(feature = "rustls")]
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_flush(cx),
            Self::Unix(s) => Pin::new(s).poll_flush(cx),
            #[cfg(feature = "rustls")]
            Self::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Self::Unix(s) => Pin::new(s).poll_shutdown(cx),
            #[cfg(feature = "rustls")]
            Self::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// The socket as tokio-postgres sees it: shared with [`Direct`] exchanges.
#[derive(Clone, Debug)]
pub(crate) struct Wire {
    shared: Arc<Mutex<Shared>>,
}

#[derive(Debug)]
struct Shared {
    io: Io,
    /// A [`Direct`] exchange owns the socket.
    direct: bool,
    /// tokio-postgres's task, waiting for the socket to come back.
    parked: Option<Waker>,
    /// tokio-postgres's traffic, once its startup is over.
    track: Option<Track>,
}

/// What tokio-postgres has in flight on the socket.
#[derive(Debug, Default)]
struct Track {
    sent: Frames,
    received: Frames,
    /// `Sync`s and `Query`s written whose `ReadyForQuery` has not been read.
    outstanding: u64,
}

impl Track {
    fn wrote(&mut self, bytes: &[u8]) {
        let outstanding = &mut self.outstanding;
        self.sent.feed(bytes, |kind| {
            if kind == b'S' || kind == b'Q' {
                *outstanding += 1;
            }
        });
    }

    fn read(&mut self, bytes: &[u8]) {
        let outstanding = &mut self.outstanding;
        self.received.feed(bytes, |kind| {
            if kind == b'Z' {
                *outstanding = outstanding.saturating_sub(1);
            }
        });
    }

    /// Nothing is half-written or half-read, and every `Sync` is answered.
    fn quiet(&self) -> bool {
        self.outstanding == 0 && self.sent.at_boundary() && self.received.at_boundary()
    }
}

/// Follows message boundaries in one direction of the protocol (after the
/// startup, every message is a type byte and a length that counts itself).
#[derive(Debug, Default)]
struct Frames {
    header: [u8; 5],
    /// Header bytes seen of the current message.
    have: usize,
    /// Body bytes still to come of the current message.
    remaining: usize,
}

impl Frames {
    /// Follows `bytes`, calling `on_type` with each message's type as its header completes.
    fn feed(&mut self, mut bytes: &[u8], mut on_type: impl FnMut(u8)) {
        while !bytes.is_empty() {
            if self.remaining > 0 {
                let n = self.remaining.min(bytes.len());
                self.remaining -= n;
                bytes = &bytes[n..];
                continue;
            }
            let n = (5 - self.have).min(bytes.len());
            self.header[self.have..self.have + n].copy_from_slice(&bytes[..n]);
            self.have += n;
            bytes = &bytes[n..];
            if self.have == 5 {
                let [kind, a, b, c, d] = self.header;
                self.remaining = (u32::from_be_bytes([a, b, c, d]) as usize).saturating_sub(4);
                self.have = 0;
                on_type(kind);
            }
        }
    }

    fn at_boundary(&self) -> bool {
        self.have == 0 && self.remaining == 0
    }
}

impl Wire {
    pub(crate) fn new(io: Io) -> Self {
        Self {
            shared: Arc::new(Mutex::new(Shared {
                io,
                direct: false,
                parked: None,
                track: None,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        // Nothing panics while holding the lock; recover the socket if something did.
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts following tokio-postgres's messages: call once its startup is
    /// over, before its connection task first runs.
    pub(crate) fn track(&self) {
        self.lock().track = Some(Track::default());
    }

    /// Takes the socket from tokio-postgres until the returned exchange
    /// drops, if tokio-postgres is quiet on it.
    pub(crate) fn try_direct(&self) -> Option<Direct> {
        let mut shared = self.lock();
        if !shared.track.as_ref().is_some_and(Track::quiet) {
            return None;
        }
        shared.direct = true;
        Some(Direct { wire: self.clone() })
    }

    /// Polls the socket for tokio-postgres, or parks it while a [`Direct`] exchange runs.
    fn poll_shared<R>(
        &self,
        cx: &mut Context<'_>,
        f: impl FnOnce(Pin<&mut Io>, &mut Context<'_>, Option<&mut Track>) -> Poll<io::Result<R>>,
    ) -> Poll<io::Result<R>> {
        let mut shared = self.lock();
        if shared.direct {
            shared.parked = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let Shared { io, track, .. } = &mut *shared;
        f(Pin::new(io), cx, track.as_mut())
    }
}

impl AsyncRead for Wire {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.poll_shared(cx, |io, cx, track| {
            let before = buf.filled().len();
            let polled = io.poll_read(cx, buf);
            if let Some(track) = track {
                track.read(&buf.filled()[before..]);
            }
            polled
        })
    }
}

impl AsyncWrite for Wire {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_shared(cx, |io, cx, track| {
            let polled = io.poll_write(cx, buf);
            if let (Poll::Ready(Ok(n)), Some(track)) = (&polled, track) {
                track.wrote(&buf[..*n]);
            }
            polled
        })
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_shared(cx, |io, cx, _| io.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_shared(cx, |io, cx, _| io.poll_shutdown(cx))
    }
}

/// The socket, taken from tokio-postgres; given back (and its task woken) on drop.
pub(crate) struct Direct {
    wire: Wire,
}

impl Direct {
    /// Writes all of `buf`.
    pub(crate) async fn write_all(&mut self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            let n = std::future::poll_fn(|cx| {
                let mut shared = self.wire.lock();
                Pin::new(&mut shared.io).poll_write(cx, buf)
            })
            .await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            buf = &buf[n..];
        }
        Ok(())
    }

    /// Reads what is available onto the end of `buf`; an error at end of stream.
    pub(crate) async fn read_more(&mut self, buf: &mut BytesMut) -> io::Result<()> {
        let start = buf.len();
        buf.resize(start + READ_CHUNK, 0);
        let read = std::future::poll_fn(|cx| {
            let mut shared = self.wire.lock();
            let mut read = ReadBuf::new(&mut buf[start..]);
            match Pin::new(&mut shared.io).poll_read(cx, &mut read) {
                Poll::Ready(Ok(())) => Poll::Ready(Ok(read.filled().len())),
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            }
        })
        .await;
        let n = read.as_ref().copied().unwrap_or(0);
        buf.truncate(start + n);
        match read? {
            0 => Err(io::ErrorKind::UnexpectedEof.into()),
            _ => Ok(()),
        }
    }
}

/// How much a read asks the socket for at a time.
const READ_CHUNK: usize = 8192;

impl Drop for Direct {
    fn drop(&mut self) {
        let parked = {
            let mut shared = self.wire.lock();
            shared.direct = false;
            shared.parked.take()
        };
        if let Some(waker) = parked {
            waker.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Messages as the protocol frames them: a type byte, then a length that counts itself.
    fn message(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![kind];
        out.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn frames_follow_messages_however_the_bytes_are_cut() {
        let stream: Vec<u8> = [
            message(b'B', b"portal\0stmt\0\0\0"),
            message(b'E', b"\0\0\0\0\0"),
            message(b'S', b""),
            message(b'Q', b"COMMIT\0"),
        ]
        .concat();
        for cut in 1..=stream.len() {
            let mut track = Track::default();
            for chunk in stream.chunks(cut) {
                track.wrote(chunk);
            }
            assert_eq!(track.outstanding, 2, "chunks of {cut}");
            assert!(track.sent.at_boundary());
            track.read(&message(b'Z', b"I")[..3]);
            assert!(!track.quiet(), "half a ReadyForQuery is not quiet");
            track.read(&message(b'Z', b"I")[3..]);
            track.read(&message(b'Z', b"I"));
            assert!(track.quiet(), "chunks of {cut}");
        }
    }
}
