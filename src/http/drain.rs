//! A worker's shutdown as its connections see it.
//!
//! On SIGTERM the worker stops accepting and *drains*: requests in flight go on, and every
//! connection closes after its answer. When `drain_timeout_ms` runs out with streams still open,
//! the worker *cuts* them: each stream pump ends its stream at once with the client format's
//! in-stream error (a 503), which every SDK reports as an error, rather than the process exiting
//! under it and leaving a body that stops mid-way (which some clients read as a short answer).

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// One per worker, shared (`Rc`) by its connections.
#[derive(Default)]
pub struct Drain {
    draining: Cell<bool>,
    cut: Cell<bool>,
    /// The open streams waiting for the cut: a slot per stream, reused once the stream is over.
    waiters: RefCell<Waiters>,
}

#[derive(Default)]
struct Waiters {
    slots: Vec<Option<Waker>>,
    free: Vec<usize>,
}

impl Drain {
    /// Whether the worker is shutting down: connections close after their current answer.
    pub fn draining(&self) -> bool {
        self.draining.get()
    }

    pub fn start(&self) {
        self.draining.set(true);
    }

    /// Ends every open stream (`StreamsCut` resolves) and every stream that starts afterwards.
    pub fn cut_streams(&self) {
        self.draining.set(true);
        self.cut.set(true);
        // Taken out first: a woken task runs later, but a waker's `wake` must not find the
        // list borrowed if it ever runs inline.
        let wakers: Vec<Waker> = self
            .waiters
            .borrow_mut()
            .slots
            .iter_mut()
            .filter_map(Option::take)
            .collect();
        for w in wakers {
            w.wake();
        }
    }

    /// Resolves when the worker cuts its streams. Kept pinned for a stream's life: it holds
    /// one slot, whose waker is replaced only when the task's changes (never per event).
    pub fn streams_cut(self: &Rc<Self>) -> StreamsCut {
        StreamsCut {
            drain: self.clone(),
            slot: None,
        }
    }
}

/// Why a stream stops before its end.
#[derive(Debug, PartialEq, Eq)]
pub enum StreamStop {
    /// The client hung up: nobody reads the rest.
    ClientGone,
    /// The drain timeout ran out: the stream ends now with its format's in-stream error.
    Shutdown,
}

/// Resolves when a stream on `fd` must stop: its client hung up (`server::client_gone`) or the
/// worker cut its streams.
pub async fn stream_stopped(fd: std::os::fd::RawFd, cut: StreamsCut) -> StreamStop {
    monoio::select! {
        _ = super::server::client_gone(fd) => StreamStop::ClientGone,
        _ = cut => StreamStop::Shutdown,
    }
}

pub struct StreamsCut {
    drain: Rc<Drain>,
    slot: Option<usize>,
}

impl Future for StreamsCut {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.drain.cut.get() {
            return Poll::Ready(());
        }
        let mut waiters = this.drain.waiters.borrow_mut();
        let w = &mut *waiters;
        let i = match this.slot {
            Some(i) => i,
            None => {
                let i = w.free.pop().unwrap_or_else(|| {
                    w.slots.push(None);
                    w.slots.len() - 1
                });
                this.slot = Some(i);
                i
            }
        };
        match &w.slots[i] {
            Some(known) if known.will_wake(cx.waker()) => {}
            _ => w.slots[i] = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl Drop for StreamsCut {
    fn drop(&mut self) {
        if let Some(i) = self.slot {
            let mut w = self.drain.waiters.borrow_mut();
            w.slots[i] = None;
            w.free.push(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn poll(f: &mut StreamsCut, waker: &Waker) -> Poll<()> {
        Pin::new(f).poll(&mut Context::from_waker(waker))
    }

    #[test]
    fn cut_wakes_every_waiting_stream_once_and_later_ones_resolve_at_once() {
        let drain = Rc::new(Drain::default());
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut a = drain.streams_cut();
        let mut b = drain.streams_cut();
        // Polled again and again (as a select polls every branch), a stream keeps one slot.
        for _ in 0..3 {
            assert!(poll(&mut a, &waker).is_pending());
            assert!(poll(&mut b, &waker).is_pending());
        }
        assert_eq!(drain.waiters.borrow().slots.len(), 2);
        assert!(!drain.draining());
        drain.cut_streams();
        assert!(drain.draining(), "a cut worker is draining too");
        assert_eq!(count.0.load(Ordering::Relaxed), 2, "each waiting stream woken once");
        assert!(poll(&mut a, &waker).is_ready());
        assert!(poll(&mut b, &waker).is_ready());
        assert!(
            poll(&mut drain.streams_cut(), &waker).is_ready(),
            "a stream started after the cut"
        );
    }

    #[test]
    fn an_ended_stream_gives_its_slot_back() {
        let drain = Rc::new(Drain::default());
        let waker = Waker::from(Arc::new(Count(AtomicUsize::new(0))));
        for _ in 0..100 {
            let mut s = drain.streams_cut();
            assert!(poll(&mut s, &waker).is_pending());
        }
        assert_eq!(
            drain.waiters.borrow().slots.len(),
            1,
            "slots reused, not grown per stream"
        );
        let never_polled = drain.streams_cut();
        drop(never_polled);
        assert_eq!(drain.waiters.borrow().free.len(), 1, "an unpolled watch holds no slot");
    }
}
