//! A monotonic clock read at most once per poll of a connection task, as HAProxy reads its
//! clock once per turn of its event loop.
//!
//! A transaction looks at the time in many places (the stats counters' rates and times, the
//! access log's marks, `timeout server`'s activity clock, the idle pool's ages, the
//! keep-alive timer): ~15 clock reads per keep-alive request when each asks the system.
//! Within one poll of the connection's task no I/O is awaited, so these all want the same
//! instant: [`PerPoll`] wraps the task and the first [`now`] of each poll reads the clock,
//! the later ones of that poll get the same value. Outside such a task (health checks,
//! HTTP/2 streams, tests) [`now`] is `Instant::now()`.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

#[derive(Clone, Copy)]
enum Slot {
    /// Not in a [`PerPoll`] task: every [`now`] reads the clock.
    Off,
    /// In one, the clock not read yet during this poll.
    Unread,
    /// In one, read at this instant during this poll.
    At(Instant),
}

thread_local! {
    static NOW: Cell<Slot> = const { Cell::new(Slot::Off) };
}

/// The current instant: the one this poll of the task already read, if any.
pub fn now() -> Instant {
    NOW.with(|c| match c.get() {
        Slot::At(t) => t,
        Slot::Off => Instant::now(),
        Slot::Unread => {
            let t = Instant::now();
            c.set(Slot::At(t));
            t
        }
    })
}

/// [`now`] as a tokio instant (for deadlines).
pub fn tokio_now() -> tokio::time::Instant {
    tokio::time::Instant::from_std(now())
}

/// Runs `f` with a clock read at most once per poll (see the module's doc).
pub fn per_poll<F: Future>(f: F) -> PerPoll<F> {
    PerPoll(f)
}

pub struct PerPoll<F>(F);

/// Restores the slot of the enclosing poll (normally [`Slot::Off`]), also when unwinding.
struct Restore(Slot);

impl Drop for Restore {
    fn drop(&mut self) {
        let prev = self.0;
        NOW.with(|c| c.set(prev));
    }
}

impl<F: Future> Future for PerPoll<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let _restore = Restore(NOW.with(|c| c.replace(Slot::Unread)));
        // SAFETY: structural pinning: the inner future is never moved out of `self`, which
        // is pinned, and `PerPoll` has no `Drop` or `Unpin` implementation of its own that
        // could move it.
        let inner = unsafe { self.map_unchecked_mut(|s| &mut s.0) };
        inner.poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_read_per_poll() {
        // Outside: fresh reads.
        let a = now();
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert!(now() > a);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(per_poll(async {
            let t0 = now();
            std::thread::sleep(std::time::Duration::from_millis(2));
            // Same poll: same instant.
            assert_eq!(now(), t0);
            tokio::task::yield_now().await;
            // A new poll reads the clock again.
            assert!(now() > t0);
        }));
        // Restored after the poll.
        let b = now();
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert!(now() > b);
    }
}
