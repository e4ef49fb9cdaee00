//! Who masks with whom, and who holds whose shares.
//!
//! Bonawitz et al. 2017 use the complete graph: every pair of parties shares a mask, so each
//! party expands n − 1 pair masks. SecAgg+ (Bell et al. 2020, §3–4) replaces it by a random
//! k-regular graph, the Harary graph H(n, k) under a random relabelling: parties sit on a ring
//! in a random order and each is joined to the k/2 nearest on either side. Each party then
//! expands only k pair masks and shares its secrets among its k neighbours (plus itself), so
//! client cost drops from O(n·d) to O(k·d). The server draws the permutation; with an honest
//! but curious server and k = O(log n) the sum stays hidden (Bell et al., Theorem 3.6).

use rand::seq::SliceRandom;

use crate::fl::PartyId;

/// The masking graph of a round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NeighbourGraph {
    /// Every pair is joined (Bonawitz et al. 2017).
    Complete {
        /// n.
        parties: usize,
    },
    /// A shuffled Harary ring H(n, k) (SecAgg+).
    Harary {
        /// Sorted neighbour lists, self excluded.
        neighbours: Vec<Vec<PartyId>>,
    },
}

impl NeighbourGraph {
    /// The complete graph on n parties.
    pub fn complete(parties: usize) -> Self {
        NeighbourGraph::Complete { parties }
    }

    /// H(n, k) on a random ring order: k even, 2 ≤ k < n (checked by
    /// [`SecAggParams`](crate::fl::SecAggParams)).
    pub fn harary<R: rand::Rng + ?Sized>(parties: usize, k: usize, rng: &mut R) -> Self {
        let mut order: Vec<PartyId> = (0..parties).collect();
        order.shuffle(rng);
        let mut neighbours = vec![Vec::with_capacity(k); parties];
        for (pos, &u) in order.iter().enumerate() {
            for step in 1..=k / 2 {
                neighbours[u].push(order[(pos + step) % parties]);
                neighbours[u].push(order[(pos + parties - step) % parties]);
            }
        }
        for list in &mut neighbours {
            list.sort_unstable();
            list.dedup();
        }
        NeighbourGraph::Harary { neighbours }
    }

    /// Number of parties.
    pub fn parties(&self) -> usize {
        match self {
            NeighbourGraph::Complete { parties } => *parties,
            NeighbourGraph::Harary { neighbours } => neighbours.len(),
        }
    }

    /// Whether u and v (u ≠ v) share a pair mask.
    pub fn joined(&self, u: PartyId, v: PartyId) -> bool {
        match self {
            NeighbourGraph::Complete { .. } => u != v,
            NeighbourGraph::Harary { neighbours } => neighbours[u].binary_search(&v).is_ok(),
        }
    }

    /// u's neighbourhood with u itself: the holders of u's shares, sorted.
    pub fn closed_neighbourhood(&self, u: PartyId) -> Vec<PartyId> {
        match self {
            NeighbourGraph::Complete { parties } => (0..*parties).collect(),
            NeighbourGraph::Harary { neighbours } => {
                let mut list = neighbours[u].clone();
                let at = list.binary_search(&u).unwrap_or_else(|i| i);
                list.insert(at, u);
                list
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chacha20::ChaCha20Rng;
    use rand::SeedableRng;

    #[test]
    fn a_harary_graph_is_k_regular_and_symmetric() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let g = NeighbourGraph::harary(11, 4, &mut rng);
        for u in 0..11 {
            let hood = g.closed_neighbourhood(u);
            assert_eq!(hood.len(), 5, "party {u}");
            assert!(hood.contains(&u));
            for v in 0..11 {
                assert_eq!(g.joined(u, v), g.joined(v, u));
            }
            assert!(!g.joined(u, u));
        }
    }

    #[test]
    fn the_complete_graph_joins_every_pair() {
        let g = NeighbourGraph::complete(4);
        assert!(g.joined(0, 3) && !g.joined(2, 2));
        assert_eq!(g.closed_neighbourhood(2), vec![0, 1, 2, 3]);
    }
}
