//! `join` and `join_all` for the flows' parallel requests: a few lines
//! instead of futures-util (about 2 KiB of gzipped wasm). Every wake polls
//! every unfinished future, which is cheap for the handful a flow runs.

use alloc::{vec::Vec, boxed::Box};
use core::future::{Future, poll_fn};
use core::pin::{Pin, pin};
use core::cell::Cell;
use core::task::{Poll, Waker};

/// Both outputs, once both futures finished.
pub async fn join<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let (mut a, mut b) = (pin!(a), pin!(b));
    let (mut a_out, mut b_out) = (None, None);
    poll_fn(|cx| {
        if a_out.is_none()
            && let Poll::Ready(out) = a.as_mut().poll(cx)
        {
            a_out = Some(out);
        }
        if b_out.is_none()
            && let Poll::Ready(out) = b.as_mut().poll(cx)
        {
            b_out = Some(out);
        }
        match (a_out.take(), b_out.take()) {
            (Some(a), Some(b)) => Poll::Ready((a, b)),
            (a, b) => {
                (a_out, b_out) = (a, b);
                Poll::Pending
            }
        }
    })
    .await
}

/// `main`'s output; `side` runs beside it and is dropped, unfinished or
/// not, once `main` finished: work worth starting early that nothing waits for.
pub async fn beside<S: Future, M: Future>(side: S, main: M) -> M::Output {
    let (mut side, mut main) = (pin!(side), pin!(main));
    let mut side_done = false;
    poll_fn(|cx| {
        if !side_done {
            side_done = side.as_mut().poll(cx).is_ready();
        }
        main.as_mut().poll(cx)
    })
    .await
}

/// Every output, in the order of the futures.
pub async fn join_all<F: Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut running: Vec<Option<Pin<Box<F>>>> = futures.into_iter().map(|f| Some(Box::pin(f))).collect();
    let mut outputs: Vec<Option<F::Output>> = running.iter().map(|_| None).collect();
    poll_fn(|cx| {
        let mut finished = true;
        for (slot, output) in running.iter_mut().zip(outputs.iter_mut()) {
            if let Some(future) = slot {
                match future.as_mut().poll(cx) {
                    Poll::Ready(out) => {
                        *output = Some(out);
                        *slot = None;
                    }
                    Poll::Pending => finished = false,
                }
            }
        }
        if finished { Poll::Ready(outputs.drain(..).flatten().collect()) } else { Poll::Pending }
    })
    .await
}

/// A value one future of a `join` hands to another that waits for it: the
/// flows' "only after that step succeeded" without a channel crate.
pub struct Signal<T> {
    value: Cell<Option<T>>,
    waiting: Cell<Option<Waker>>,
}

impl<T: Clone> Signal<T> {
    pub fn new() -> Self {
        Signal { value: Cell::new(None), waiting: Cell::new(None) }
    }

    pub fn set(&self, value: T) {
        self.value.set(Some(value));
        if let Some(waker) = self.waiting.take() {
            waker.wake();
        }
    }

    /// The value, once `set`.
    pub async fn wait(&self) -> T {
        poll_fn(|cx| match self.value.take() {
            Some(value) => {
                self.value.set(Some(value.clone()));
                Poll::Ready(value)
            }
            None => {
                self.waiting.set(Some(cx.waker().clone()));
                Poll::Pending
            }
        })
        .await
    }
}
