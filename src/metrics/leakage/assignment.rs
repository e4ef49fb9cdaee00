//! Which reconstruction belongs to which original. A gradient-inversion attack returns its
//! images in no particular order, so each original is paired with one reconstruction by the
//! assignment that minimises the total of 1 − SSIM (breaching's `compute_batch_order` solves
//! the same problem on LPIPS distances with scipy's `linear_sum_assignment`). This is analysis
//! only: the attacker never sees the originals.
//!
//! The Hungarian method (Kuhn 1955, Munkres 1957) in its O(n³) form, with dual potentials and
//! one shortest augmenting path per row, written here because
//! `pathfinding::kuhn_munkres` takes integer weights only: scaling SSIMs to integers would round
//! nearly tied pairs together and pick between them by rounding, and for n ≤ ~64 the 40 lines
//! below cost less than a dependency.

/// The assignment of minimum total cost for the `n`×`n` row-major `cost` matrix: element `i`
/// is the column given to row `i`. Ties go to any one of the optimal assignments.
///
/// # Panics
/// If `cost` is not `n`×`n` or holds a NaN or infinite cost: callers build the matrix from
/// checked SSIMs, so either is a bug.
pub(crate) fn min_cost_assignment(cost: &[f64], n: usize) -> Vec<usize> {
    assert_eq!(cost.len(), n * n, "the cost matrix is n×n");
    assert!(cost.iter().all(|c| c.is_finite()), "costs are finite");
    // 1-based, index 0 a virtual column where each augmenting path starts. u, v: potentials
    // with u[i] + v[j] ≤ cost(i, j), equality on matched pairs (so the matching is optimal);
    // row_of[j]: the row matched to column j (0 = none); prev[j]: the column before j on the
    // current shortest path.
    let c = |i: usize, j: usize| cost[(i - 1) * n + (j - 1)];
    let (mut u, mut v) = (vec![0.0; n + 1], vec![0.0; n + 1]);
    let mut row_of = vec![0usize; n + 1];
    let mut prev = vec![0usize; n + 1];
    for row in 1..=n {
        row_of[0] = row;
        let mut j0 = 0;
        // Dijkstra over reduced costs from the new row, until a free column is reached.
        let mut dist = vec![f64::INFINITY; n + 1];
        let mut done = vec![false; n + 1];
        loop {
            done[j0] = true;
            let i0 = row_of[j0];
            let (mut delta, mut j1) = (f64::INFINITY, 0);
            for j in 1..=n {
                if done[j] {
                    continue;
                }
                let reduced = c(i0, j) - u[i0] - v[j];
                if reduced < dist[j] {
                    dist[j] = reduced;
                    prev[j] = j0;
                }
                if dist[j] < delta {
                    (delta, j1) = (dist[j], j);
                }
            }
            for j in 0..=n {
                if done[j] {
                    u[row_of[j]] += delta;
                    v[j] -= delta;
                } else {
                    dist[j] -= delta;
                }
            }
            j0 = j1;
            if row_of[j0] == 0 {
                break;
            }
        }
        // Flip the path: each column on it takes the row of the column before it.
        while j0 != 0 {
            let j1 = prev[j0];
            row_of[j0] = row_of[j1];
            j0 = j1;
        }
    }
    let mut col_of = vec![0; n];
    for j in 1..=n {
        col_of[row_of[j] - 1] = j - 1;
    }
    col_of
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    fn total(cost: &[f64], n: usize, cols: &[usize]) -> f64 {
        cols.iter().enumerate().map(|(i, &j)| cost[i * n + j]).sum()
    }

    /// The slow oracle: the cheapest of all n! assignments.
    fn brute_force(cost: &[f64], n: usize) -> f64 {
        fn go(cost: &[f64], n: usize, row: usize, used: &mut [bool], acc: f64, best: &mut f64) {
            if row == n {
                *best = best.min(acc);
                return;
            }
            for j in 0..n {
                if !used[j] {
                    used[j] = true;
                    go(cost, n, row + 1, used, acc + cost[row * n + j], best);
                    used[j] = false;
                }
            }
        }
        let mut best = f64::INFINITY;
        go(cost, n, 0, &mut vec![false; n], 0.0, &mut best);
        best
    }

    fn is_permutation(cols: &[usize]) -> bool {
        let mut seen = vec![false; cols.len()];
        cols.iter()
            .all(|&j| j < seen.len() && !std::mem::replace(&mut seen[j], true))
    }

    #[test]
    fn the_assignment_costs_what_brute_force_finds_on_random_matrices() {
        let mut rng = StdRng::seed_from_u64(7);
        for trial in 0..300 {
            let n = 1 + trial % 7;
            // Costs in [0, 2], the range of 1 − SSIM.
            let cost: Vec<f64> = (0..n * n).map(|_| rng.random_range(0.0..2.0)).collect();
            let cols = min_cost_assignment(&cost, n);
            assert!(is_permutation(&cols), "{cols:?}");
            let (got, want) = (total(&cost, n, &cols), brute_force(&cost, n));
            assert!((got - want).abs() < 1e-12, "n = {n}: {got} vs {want}");
        }
    }

    #[test]
    fn ties_still_give_an_optimal_permutation() {
        let mut rng = StdRng::seed_from_u64(11);
        // All equal: any permutation is optimal.
        let cols = min_cost_assignment(&[0.5; 16], 4);
        assert!(is_permutation(&cols));
        // Few distinct values: many tied optima.
        for n in 2..=6 {
            let cost: Vec<f64> = (0..n * n)
                .map(|_| f64::from(rng.random_range(0..3u8)))
                .collect();
            let cols = min_cost_assignment(&cost, n);
            assert!(is_permutation(&cols));
            assert_eq!(total(&cost, n, &cols), brute_force(&cost, n), "{cost:?}");
        }
    }

    #[test]
    fn one_image_and_none_are_trivial() {
        assert_eq!(min_cost_assignment(&[0.3], 1), vec![0]);
        assert_eq!(min_cost_assignment(&[], 0), Vec::<usize>::new());
    }

    #[test]
    fn a_shuffled_identity_is_undone() {
        // Zero cost on a hidden permutation, one elsewhere: the only optimum is that permutation.
        let hidden = [3, 0, 4, 1, 2];
        let mut cost = vec![1.0; 25];
        for (i, &j) in hidden.iter().enumerate() {
            cost[i * 5 + j] = 0.0;
        }
        assert_eq!(min_cost_assignment(&cost, 5), hidden);
    }

    #[test]
    fn sixty_four_images_are_matched_optimally_for_a_planted_optimum() {
        let n = 64;
        let mut rng = StdRng::seed_from_u64(3);
        let hidden: Vec<usize> = (0..n).map(|i| (i * 37 + 5) % n).collect();
        let mut cost: Vec<f64> = (0..n * n).map(|_| rng.random_range(0.5..2.0)).collect();
        for (i, &j) in hidden.iter().enumerate() {
            cost[i * n + j] = rng.random_range(0.0..0.1);
        }
        assert_eq!(min_cost_assignment(&cost, n), hidden);
    }
}
