//! The legs of one relay thread, in slots indexed by poll token (`slot * 2` for RTP,
//! `slot * 2 + 1` for RTCP), and the empty slots whose pooled sockets received something.

use std::collections::HashMap;

use super::{Leg, Mode, drain};
use crate::media::LegId;

/// The legs of one thread, in slots indexed by token.
#[derive(Default)]
pub(super) struct Legs {
    pub(super) slots: Vec<Option<Box<Leg>>>,
    free: Vec<usize>,
    by_id: HashMap<LegId, usize>,
    /// Empty slots whose sockets (a pooled pair, still polled) received something: late
    /// packets of the previous call, read away when the pair is next used. A pair nothing
    /// came to costs no read at all.
    stale: Vec<bool>,
}

impl Legs {
    /// The ids of every leg here.
    pub(super) fn ids(&self) -> Vec<LegId> {
        self.by_id.keys().copied().collect()
    }

    pub(super) fn get_mut(&mut self, slot: usize) -> Option<&mut Leg> {
        self.slots.get_mut(slot)?.as_deref_mut()
    }

    pub(super) fn slot_of(&self, id: LegId) -> Option<usize> {
        self.by_id.get(&id).copied()
    }

    /// Puts `leg` into the slot it reserved (see [`Pooled`]) if that slot is empty, else
    /// into a free one; returns the slot and whether it is the reserved one.
    pub(super) fn insert(&mut self, leg: Box<Leg>) -> (usize, bool) {
        let id = leg.id;
        if let Some(r) = leg.reserved
            && self.slots.get(r).is_some_and(Option::is_none)
        {
            if self.take_stale(r) {
                drain(&leg.rtp);
                if let Some(rtcp) = &leg.rtcp {
                    drain(rtcp);
                }
            }
            if let Some(x) = self.slots.get_mut(r) {
                *x = Some(leg);
            }
            self.by_id.insert(id, r);
            return (r, true);
        }
        let slot = match self.free.pop() {
            Some(s) => {
                if let Some(x) = self.slots.get_mut(s) {
                    *x = Some(leg);
                }
                s
            }
            None => {
                self.slots.push(Some(leg));
                self.slots.len() - 1
            }
        };
        self.by_id.insert(id, slot);
        (slot, false)
    }

    /// Takes the leg out; its slot stays reserved until [`Legs::release`].
    pub(super) fn remove(&mut self, id: LegId) -> Option<(usize, Box<Leg>)> {
        let slot = self.by_id.remove(&id)?;
        let leg = self.slots.get_mut(slot)?.take()?;
        Some((slot, leg))
    }

    /// Makes an empty slot available again.
    pub(super) fn release(&mut self, slot: usize) {
        if self.slots.get(slot).is_some_and(Option::is_none) {
            self.take_stale(slot);
            self.free.push(slot);
        }
    }

    /// Notes that the sockets of empty slot `slot` have something to read.
    pub(super) fn mark_stale(&mut self, slot: usize) {
        if self.stale.len() <= slot {
            self.stale.resize(slot + 1, false);
        }
        if let Some(s) = self.stale.get_mut(slot) {
            *s = true;
        }
    }

    /// Whether `slot` was marked stale; clears the mark.
    pub(super) fn take_stale(&mut self, slot: usize) -> bool {
        self.stale.get_mut(slot).is_some_and(std::mem::take)
    }

    /// Two distinct legs, mutably.
    pub(super) fn pair_mut(&mut self, a: usize, b: usize) -> Option<(&mut Leg, &mut Leg)> {
        if a < b {
            let (x, y) = self.slots.split_at_mut(b);
            Some((
                x.get_mut(a)?.as_deref_mut()?,
                y.first_mut()?.as_deref_mut()?,
            ))
        } else if b < a {
            let (x, y) = self.slots.split_at_mut(a);
            Some((
                y.first_mut()?.as_deref_mut()?,
                x.get_mut(b)?.as_deref_mut()?,
            ))
        } else {
            None
        }
    }

    /// Makes the leg idle, and its bridged peer too.
    pub(super) fn unbridge(&mut self, slot: usize) {
        let Some(leg) = self.get_mut(slot) else {
            return;
        };
        let mode = std::mem::replace(&mut leg.mode, Mode::Idle);
        if let Mode::Bridged(peer, _) = mode
            && let Some(p) = self.get_mut(peer)
        {
            p.mode = Mode::Idle;
        }
    }
}
