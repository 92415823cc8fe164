//! The `[n]` citations in an answer, checked against the sources the model was given.

use std::collections::BTreeSet;

/// The distinct source numbers `answer` cites that exist (1..=`sources`), ascending.
/// Accepts `[2]`, `[1][3]` and `[1, 3]`; anything else in brackets (Markdown links, `[x]`)
/// is not a citation. A number beyond the sources is one the model made up, and is dropped.
pub fn cited(answer: &str, sources: usize) -> Vec<i32> {
    let mut found = BTreeSet::new();
    let mut rest = answer;
    while let Some(open) = rest.find('[') {
        rest = &rest[open + 1..];
        let Some(close) = rest.find(']') else { break };
        let inner = &rest[..close];
        let numbers: Option<Vec<usize>> = inner
            .split(',')
            .map(|n| n.trim().parse::<usize>().ok())
            .collect();
        if let Some(numbers) = numbers {
            found.extend(numbers.into_iter().filter(|n| (1..=sources).contains(n)));
        }
    }
    found.into_iter().map(|n| n as i32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn citations_are_parsed_and_checked() {
        let answer = "Uploads resume [1][3]. Search points at minutes [2, 3]. \
                      See [the docs](x) and [x]. Made up [9]. Zero [0]. Nested [[2]]";
        assert_eq!(cited(answer, 3), vec![1, 2, 3]);
        assert_eq!(cited(answer, 1), vec![1]);
        assert!(cited("no citations at all", 5).is_empty());
        assert!(cited("[1", 5).is_empty());
    }
}
