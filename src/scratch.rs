//! Buffers reused from one request to the next on the same thread: the SQL
//! text and parameters of a statement, and the `request.headers` JSON. Each
//! request needs them only until its answer is read, so a handful per thread
//! serve every request without allocating.
//!
//! A buffer goes back to the thread that drops it, which need not be the one
//! that took it (a task may move between a runtime's workers): each thread
//! keeps at most [`KEPT`] of each kind, and none larger than [`MAX_KEPT`]
//! bytes, so one large request is not kept and the pools stay small. Nothing
//! in them outlives its use: a buffer is cleared before it is lent again.
//!
//! No crate offers this shape (a pooled `String` that derefs to it and
//! returns itself on drop, without locks): object pools in the field are
//! shared across threads behind a lock, which costs more than the
//! allocation it saves here.

use std::cell::RefCell;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::thread::LocalKey;

use compact_str::CompactString;

/// The most buffers of each kind a thread keeps.
const KEPT: usize = 8;
/// The largest buffer kept, in bytes; larger ones are freed.
const MAX_KEPT: usize = 16 * 1024;

/// What a pool keeps: cleared before it is lent again.
pub(crate) trait Reusable: Default + 'static {
    /// Empties it, keeping its capacity.
    fn clear(&mut self);
    /// Its capacity in bytes.
    fn bytes(&self) -> usize;
    /// Each thread's pool of them.
    fn pool() -> &'static LocalKey<RefCell<Vec<Self>>>;
}

/// Runs `f` on this thread's pool of `T`; `None` while the thread is being
/// torn down (its pool is gone).
fn with_pool<T: Reusable, R>(f: impl FnOnce(&mut Vec<T>) -> R) -> Option<R> {
    T::pool()
        .try_with(|pool| pool.try_borrow_mut().ok().map(|mut p| f(&mut p)))
        .ok()
        .flatten()
}

thread_local! {
    static TEXTS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
    static PARAMS: RefCell<Vec<Vec<Option<CompactString>>>> = const { RefCell::new(Vec::new()) };
}

impl Reusable for String {
    fn clear(&mut self) {
        String::clear(self);
    }

    fn bytes(&self) -> usize {
        self.capacity()
    }

    fn pool() -> &'static LocalKey<RefCell<Vec<Self>>> {
        &TEXTS
    }
}

impl Reusable for Vec<Option<CompactString>> {
    fn clear(&mut self) {
        Vec::clear(self);
    }

    fn bytes(&self) -> usize {
        self.capacity() * std::mem::size_of::<Option<CompactString>>()
    }

    fn pool() -> &'static LocalKey<RefCell<Vec<Self>>> {
        &PARAMS
    }
}

/// A `T` from this thread's pool, given back when dropped.
pub(crate) struct Scratch<T: Reusable>(T);

impl<T: Reusable> Scratch<T> {
    /// An empty buffer: a kept one, or one `make` makes when the pool is empty.
    pub(crate) fn take(make: impl FnOnce() -> T) -> Self {
        match with_pool::<T, _>(Vec::pop).flatten() {
            Some(kept) => Self(kept),
            None => Self(make()),
        }
    }
}

impl<T: Reusable> Drop for Scratch<T> {
    fn drop(&mut self) {
        if self.0.bytes() == 0 || self.0.bytes() > MAX_KEPT {
            return;
        }
        let mut buffer = std::mem::take(&mut self.0);
        buffer.clear();
        with_pool::<T, _>(|pool| {
            if pool.len() < KEPT {
                pool.push(buffer);
            }
        });
    }
}

impl<T: Reusable> Deref for Scratch<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: Reusable> DerefMut for Scratch<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T: Reusable + Clone> Clone for Scratch<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<T: Reusable + fmt::Debug> fmt::Debug for Scratch<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<T: Reusable + PartialEq> PartialEq for Scratch<T> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl<T: Reusable + Eq> Eq for Scratch<T> {}

impl fmt::Display for Scratch<String> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for Scratch<String> {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Scratch<String> {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<Vec<Option<CompactString>>> for Scratch<Vec<Option<CompactString>>> {
    fn eq(&self, other: &Vec<Option<CompactString>>) -> bool {
        self.0 == *other
    }
}

impl<T: Reusable> From<T> for Scratch<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_buffer_is_lent_again_empty() {
        let mut first: Scratch<String> = Scratch::take(|| String::with_capacity(64));
        first.push_str("SELECT 1");
        let address = first.as_ptr();
        drop(first);
        let second: Scratch<String> = Scratch::take(String::new);
        assert!(second.is_empty(), "cleared before it is lent again");
        assert_eq!(second.as_ptr(), address, "the same buffer");
    }

    #[test]
    fn large_buffers_and_more_than_the_pool_holds_are_freed() {
        let large: Scratch<String> = Scratch::take(|| String::with_capacity(MAX_KEPT + 1));
        drop(large);
        let fresh: Scratch<String> = Scratch::take(String::new);
        assert_eq!(fresh.capacity(), 0, "the large one was not kept");
        drop(fresh);
        let many: Vec<Scratch<String>> = (0..KEPT + 4)
            .map(|_| Scratch::take(|| String::with_capacity(16)))
            .collect();
        drop(many);
        assert_eq!(with_pool::<String, _>(|pool| pool.len()), Some(KEPT));
    }
}
