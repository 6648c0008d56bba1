//! Suggestions for misspelt job ids: the closest known id, if one is
//! close enough to be what the author meant.
//!
//! Distance is the optimal string alignment distance, so swapping two
//! neighbouring characters (`biuld` for `build`) counts as one edit,
//! the most common typo in a short id.

/// Returns the candidate closest to `name`, when it is within a third
/// of the name's length (at least 1, at most 3 edits). Names shorter
/// than 3 characters get no suggestion, because one edit away from
/// them is almost any short id.
pub fn closest<'c>(
    name: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    let length = name.chars().count();
    if length < 3 {
        return None;
    }
    let limit = (length / 3).clamp(1, 3);
    candidates
        .into_iter()
        .filter(|c| *c != name)
        .map(|c| (distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, c)| c)
}

/// Formats `; did you mean "ID"?` for a suggestion, or nothing.
pub fn did_you_mean(suggestion: &Option<String>) -> String {
    match suggestion {
        Some(id) => format!("; did you mean {id:?}?"),
        None => String::new(),
    }
}

/// Optimal string alignment distance over characters.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    d[0] = (0..=b.len()).collect();
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transposition_is_one_edit() {
        assert_eq!(distance("biuld", "build"), 1);
        assert_eq!(distance("test", "test"), 0);
        assert_eq!(distance("", "abc"), 3);
    }

    #[test]
    fn closest_within_limit() {
        let ids = ["build", "test", "deploy", "quire/push"];
        assert_eq!(closest("biuld", ids), Some("build"));
        assert_eq!(closest("tset", ids), Some("test"));
        assert_eq!(closest("quire/psuh", ids), Some("quire/push"));
        assert_eq!(closest("lint", ids), None);
        assert_eq!(closest("build", ids), None);
        assert_eq!(closest("c", ["a", "b"]), None);
    }
}
