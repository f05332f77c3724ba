//! An ordered multiset with the iteration order of HAProxy's eb32 trees.
//!
//! Round-robin and leastconn depend on how eb32 orders equal keys: a
//! duplicate is inserted after the existing ones, so equal keys come out in
//! insertion order. Re-inserting a server thus sends it to the back of its
//! tie group, which is what makes leastconn rotate among equally loaded
//! servers. A (key, insertion sequence) pair reproduces that order.

use std::collections::BTreeSet;

/// Handle to an inserted node, needed to delete it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Node {
    pub key: u32,
    seq: u64,
    pub item: usize,
}

#[derive(Debug, Clone, Default)]
pub struct DupTree {
    set: BTreeSet<(u32, u64, usize)>,
    seq: u64,
}

impl DupTree {
    pub fn insert(&mut self, key: u32, item: usize) -> Node {
        self.seq += 1;
        self.set.insert((key, self.seq, item));
        Node {
            key,
            seq: self.seq,
            item,
        }
    }

    /// Removes `node` if present (like eb32_delete on a detached node, a no-op
    /// otherwise).
    pub fn remove(&mut self, node: Node) {
        self.set.remove(&(node.key, node.seq, node.item));
    }

    pub fn first(&self) -> Option<Node> {
        self.set
            .iter()
            .next()
            .map(|&(key, seq, item)| Node { key, seq, item })
    }

    /// The node following `node` in tree order, if any.
    pub fn next(&self, node: Node) -> Option<Node> {
        use std::ops::Bound::{Excluded, Unbounded};
        self.set
            .range((Excluded((node.key, node.seq, node.item)), Unbounded))
            .next()
            .map(|&(key, seq, item)| Node { key, seq, item })
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.set.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_iterate_in_insertion_order() {
        let mut t = DupTree::default();
        let a = t.insert(5, 0);
        t.insert(5, 1);
        t.insert(3, 2);
        let first = t.first().map(|n| n.item);
        assert_eq!(first, Some(2));
        t.remove(a);
        t.insert(5, 0);
        let mut order = vec![];
        let mut n = t.first();
        while let Some(x) = n {
            order.push(x.item);
            n = t.next(x);
        }
        assert_eq!(order, vec![2, 1, 0]);
        assert_eq!(t.len(), 3);
    }
}
