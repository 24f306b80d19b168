//! Deadlines of many owners, earliest first, at a constant cost per deadline.
//!
//! A transaction layer holds one deadline per live transaction, and over UDP most of them
//! are 64*T1 (32 s) away: some 450,000 at 3,500 calls/s. In a binary heap each expiry
//! walked ~19 levels of a 12 MB array, a cache miss per level, and the queues' CPU rose by
//! a fifth once the first transactions of a load began to expire. But SIP's delays take a
//! few values (T1 doublings, T4, 64*T1) and time only moves forward, so deadlines armed
//! with one delay arrive in order: each goes to the back of a FIFO whose last deadline is
//! not later, and the earliest deadline is the earliest of a few fronts. Memory is read in
//! order, which the processor prefetches. A deadline that fits no FIFO (a clock going
//! backwards in a test) goes to a small heap.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, VecDeque};
use std::time::Instant;

/// Most FIFOs kept (about one per distinct delay is used); beyond, the heap.
const MAX_FIFOS: usize = 16;

/// One deadline: `seq` orders equal instants by arming order.
#[derive(Debug)]
struct Entry<T> {
    at: Instant,
    seq: u64,
    item: T,
}

impl<T> PartialEq for Entry<T> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl<T> Eq for Entry<T> {}

impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Ord for Entry<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// Where the earliest deadline is.
#[derive(Clone, Copy)]
enum Source {
    Fifo(usize),
    Heap,
}

/// Deadlines, each with an item, taken earliest first (equal instants in arming order).
#[derive(Debug)]
pub(crate) struct Deadlines<T> {
    /// Each non-decreasing from front to back. Empty ones are kept for reuse.
    fifos: Vec<VecDeque<Entry<T>>>,
    heap: BinaryHeap<Reverse<Entry<T>>>,
    seq: u64,
}

impl<T> Default for Deadlines<T> {
    fn default() -> Self {
        Self {
            fifos: Vec::new(),
            heap: BinaryHeap::new(),
            seq: 0,
        }
    }
}

impl<T> Deadlines<T> {
    /// Adds a deadline.
    pub(crate) fn push(&mut self, at: Instant, item: T) {
        self.seq += 1;
        let entry = Entry {
            at,
            seq: self.seq,
            item,
        };
        // Best fit: the FIFO whose last deadline is the latest one not after `at` (this
        // keeps one FIFO per delay); else an empty FIFO; else a new one; else the heap.
        let mut best: Option<(usize, Instant)> = None;
        let mut empty = None;
        for (i, fifo) in self.fifos.iter().enumerate() {
            match fifo.back() {
                Some(last) if last.at <= at => {
                    if best.is_none_or(|(_, b)| last.at > b) {
                        best = Some((i, last.at));
                    }
                }
                Some(_) => {}
                None => {
                    empty.get_or_insert(i);
                }
            }
        }
        let slot = best.map(|(i, _)| i).or(empty);
        if let Some(fifo) = slot.and_then(|i| self.fifos.get_mut(i)) {
            fifo.push_back(entry);
        } else if self.fifos.len() < MAX_FIFOS {
            self.fifos.push(VecDeque::from([entry]));
        } else {
            self.heap.push(Reverse(entry));
        }
    }

    /// Where the earliest deadline is, and when.
    fn earliest(&self) -> Option<(Source, Instant)> {
        let mut best: Option<(Source, (Instant, u64))> = None;
        for (i, fifo) in self.fifos.iter().enumerate() {
            if let Some(front) = fifo.front()
                && best.is_none_or(|(_, b)| (front.at, front.seq) < b)
            {
                best = Some((Source::Fifo(i), (front.at, front.seq)));
            }
        }
        if let Some(Reverse(top)) = self.heap.peek()
            && best.is_none_or(|(_, b)| (top.at, top.seq) < b)
        {
            best = Some((Source::Heap, (top.at, top.seq)));
        }
        best.map(|(source, (at, _))| (source, at))
    }

    /// The earliest deadline.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.earliest().map(|(_, at)| at)
    }

    /// Takes the earliest deadline if it is not after `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<(Instant, T)> {
        let (source, at) = self.earliest()?;
        if at > now {
            return None;
        }
        let entry = match source {
            Source::Fifo(i) => self.fifos.get_mut(i)?.pop_front()?,
            Source::Heap => self.heap.pop()?.0,
        };
        Some((entry.at, entry.item))
    }
}

#[cfg(test)]
#[path = "deadlines_tests.rs"]
mod tests;
