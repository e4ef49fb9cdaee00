//! The summary lines of an experiment: its cases grouped by what varies between lines, each
//! group holding the repetitions (seeds) of one setting, in the order the run met them.

/// The cases of `items` grouped by `key`, groups in order of first appearance, each group's
/// items in their own order.
pub fn in_order<T, K: PartialEq>(items: &[T], key: impl Fn(&T) -> K) -> Vec<Vec<&T>> {
    let mut keys: Vec<K> = Vec::new();
    let mut groups: Vec<Vec<&T>> = Vec::new();
    for item in items {
        let k = key(item);
        match keys.iter().position(|seen| *seen == k) {
            Some(at) => groups[at].push(item),
            None => {
                keys.push(k);
                groups.push(vec![item]);
            }
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_keep_the_order_of_first_appearance() {
        let items = [(1, 'a'), (2, 'b'), (1, 'c'), (3, 'd'), (2, 'e')];
        let groups = in_order(&items, |&(k, _)| k);
        let letters: Vec<String> = groups
            .iter()
            .map(|g| g.iter().map(|&&(_, c)| c).collect())
            .collect();
        assert_eq!(letters, vec!["ac", "be", "d"]);
    }
}
