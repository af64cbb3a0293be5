//! A min-heap of deadlines, each with a step and a weak pointer to what it is for. Entries
//! of things already gone are dropped as they come up, and swept out whenever the heap
//! has doubled since the last sweep: a client that connects and leaves again and again
//! cannot grow it beyond about twice the entries of live sockets.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::sync::Weak;

/// Below this many entries the heap is never swept.
const MIN_SWEEP: usize = 1024;

/// What is due at a deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    Warn,
    Expire,
}

/// A deadline (Unix ms), its step and what it is for; ordered by deadline, then step.
pub struct Entry<T> {
    pub at: i64,
    pub step: Step,
    pub item: Weak<T>,
}

impl<T> PartialEq for Entry<T> {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.step) == (o.at, o.step)
    }
}
impl<T> Eq for Entry<T> {}
impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl<T> Ord for Entry<T> {
    fn cmp(&self, o: &Self) -> Ordering {
        (self.at, self.step).cmp(&(o.at, o.step))
    }
}

pub struct Deadlines<T> {
    heap: BinaryHeap<Reverse<Entry<T>>>,
    sweep_at: usize,
}

impl<T> Default for Deadlines<T> {
    fn default() -> Self {
        Deadlines {
            heap: BinaryHeap::new(),
            sweep_at: MIN_SWEEP,
        }
    }
}

impl<T> Deadlines<T> {
    /// Adds an entry; true if it is now the earliest. `alive` tells, at a sweep, which
    /// entries are still wanted.
    pub fn push(&mut self, e: Entry<T>, alive: impl Fn(&T) -> bool) -> bool {
        if self.heap.len() >= self.sweep_at {
            self.heap
                .retain(|Reverse(e)| e.item.upgrade().is_some_and(|t| alive(&t)));
            self.sweep_at = (self.heap.len() * 2).max(MIN_SWEEP);
        }
        let earliest = self.heap.peek().is_none_or(|h| e.at < h.0.at);
        self.heap.push(Reverse(e));
        earliest
    }

    /// The entries due by `now`, taken off, and when the next one is due.
    pub fn due(&mut self, now: i64) -> (Vec<Entry<T>>, Option<i64>) {
        let mut due = Vec::new();
        while self.heap.peek().is_some_and(|e| e.0.at <= now) {
            if let Some(Reverse(e)) = self.heap.pop() {
                due.push(e);
            }
        }
        (due, self.heap.peek().map(|e| e.0.at))
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn entry(at: i64, step: Step, item: &Arc<u32>) -> Entry<u32> {
        Entry {
            at,
            step,
            item: Arc::downgrade(item),
        }
    }

    #[test]
    fn entries_come_out_in_deadline_order_warning_before_expiry() {
        let mut d = Deadlines::default();
        let a = Arc::new(1);
        assert!(d.push(entry(30, Step::Expire, &a), |_| true));
        assert!(d.push(entry(10, Step::Warn, &a), |_| true));
        assert!(!d.push(entry(30, Step::Warn, &a), |_| true));
        let (due, next) = d.due(30);
        let order: Vec<_> = due.iter().map(|e| (e.at, e.step)).collect();
        assert_eq!(
            order,
            [(10, Step::Warn), (30, Step::Warn), (30, Step::Expire)]
        );
        assert_eq!(next, None);
        d.push(entry(50, Step::Warn, &a), |_| true);
        assert_eq!(d.due(49).1, Some(50));
    }

    #[test]
    fn a_client_connecting_and_leaving_again_and_again_does_not_grow_the_heap() {
        let mut d = Deadlines::default();
        let live: Vec<Arc<u32>> = (0..100).map(Arc::new).collect();
        for s in &live {
            d.push(entry(1_000_000, Step::Warn, s), |_| true);
        }
        // A million short-lived sockets whose tokens end far in the future.
        for i in 0..1_000_000u32 {
            let gone = Arc::new(i);
            d.push(entry(1_000_000 + i as i64, Step::Warn, &gone), |_| true);
        }
        assert!(d.len() <= 2 * MIN_SWEEP, "{} entries", d.len());
        let (due, _) = d.due(1_000_000);
        let live_due = due.iter().filter(|e| e.item.upgrade().is_some()).count();
        assert_eq!(live_due, 100, "the live ones are all still there");
    }
}
