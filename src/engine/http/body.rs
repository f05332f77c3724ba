//! Body types shared by the frontends and the server side.
//!
//! - [`ReqBody`]: what is sent to a server, boxed so HTTP/1 (channel-fed) and HTTP/2
//!   (hyper `Incoming`) request bodies take the same path.
//! - [`ChanBody`]: an HTTP/1 request body fed by the client connection loop through a small
//!   channel (two frames of backpressure).
//! - [`Activity`]: a shared "last I/O" clock; bodies touch it on every frame so `timeout
//!   server` measures server *inactivity*, not the time spent uploading a large request.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, SizeHint};
use tokio::sync::mpsc;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A request body on its way to a server.
pub type ReqBody = UnsyncBoxBody<Bytes, BoxError>;

/// A response body on its way to an HTTP/2 client.
pub type RespBody = UnsyncBoxBody<Bytes, BoxError>;

/// An empty boxed body.
pub fn empty() -> UnsyncBoxBody<Bytes, BoxError> {
    http_body_util::Empty::<Bytes>::new()
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// A complete boxed body.
pub fn full(b: Bytes) -> UnsyncBoxBody<Bytes, BoxError> {
    http_body_util::Full::new(b)
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// Milliseconds since a process-wide origin, shared between tasks.
#[derive(Debug, Clone)]
pub struct Activity(Arc<(Instant, AtomicU64)>);

impl Default for Activity {
    fn default() -> Self {
        Activity(Arc::new((crate::engine::clock::now(), AtomicU64::new(0))))
    }
}

impl Activity {
    pub fn touch(&self) {
        let ms = crate::engine::clock::now()
            .saturating_duration_since(self.0 .0)
            .as_millis() as u64;
        self.0 .1.store(ms, Ordering::Relaxed);
    }

    /// When the last activity happened.
    pub fn last(&self) -> Instant {
        self.0 .0 + Duration::from_millis(self.0 .1.load(Ordering::Relaxed))
    }

    /// Resolves once nothing touched the clock for `idle`, waiting on `timer` (re-armed)
    /// when given, else on a timer of its own.
    pub async fn idle_for(
        &self,
        idle: Duration,
        mut timer: Option<&mut Pin<&mut tokio::time::Sleep>>,
    ) {
        loop {
            let deadline = self.last() + idle;
            if crate::engine::clock::now() >= deadline {
                return;
            }
            match timer.as_mut() {
                Some(t) => {
                    t.as_mut().reset(deadline.into());
                    t.as_mut().await;
                }
                None => tokio::time::sleep_until(deadline.into()).await,
            }
        }
    }
}

/// A frame or error produced by the client connection loop.
pub type ChanItem = Result<Frame<Bytes>, BoxError>;

/// A request body fed through a channel.
pub struct ChanBody {
    rx: mpsc::Receiver<ChanItem>,
    /// Exact remaining length for Content-Length bodies.
    remaining: Option<u64>,
    activity: Activity,
    done: bool,
}

impl ChanBody {
    /// A body of `len` bytes (`None` for chunked) and the sender feeding it.
    pub fn channel(len: Option<u64>, activity: Activity) -> (mpsc::Sender<ChanItem>, ChanBody) {
        let (tx, rx) = mpsc::channel(2);
        (
            tx,
            ChanBody {
                rx,
                remaining: len,
                activity,
                done: false,
            },
        )
    }
}

impl Body for ChanBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if self.done {
            return Poll::Ready(None);
        }
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                self.activity.touch();
                if let (Some(d), Some(rem)) = (frame.data_ref(), self.remaining.as_mut()) {
                    *rem = rem.saturating_sub(d.len() as u64);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                self.done = true;
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(None) => {
                self.done = true;
                if self.remaining.is_some_and(|r| r > 0) {
                    return Poll::Ready(Some(Err("client aborted the request body".into())));
                }
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.remaining == Some(0)
    }

    fn size_hint(&self) -> SizeHint {
        match self.remaining {
            Some(n) => SizeHint::with_exact(n),
            None => SizeHint::default(),
        }
    }
}

/// Wraps any body so every frame touches an [`Activity`] clock.
pub struct Touching<B> {
    inner: B,
    activity: Activity,
}

impl<B> Touching<B> {
    pub fn new(inner: B, activity: Activity) -> Self {
        Touching { inner, activity }
    }
}

impl<B: Body + Unpin> Body for Touching<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let r = Pin::new(&mut self.inner).poll_frame(cx);
        if r.is_ready() {
            self.activity.touch();
        }
        r
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
