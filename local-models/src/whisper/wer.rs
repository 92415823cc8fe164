//! Word error rate, for accuracy tests and benches: word-level Levenshtein distance over the
//! reference length, after lowercasing and dropping punctuation (so "Friday." = "friday").

/// Lowercased words; hyphens and slashes split words ("OPS-1234" → "ops 1234"), other
/// punctuation (apostrophes included: "Let's" → "lets") is dropped.
pub fn normalise(text: &str) -> Vec<String> {
    let cleaned: String = text
        .chars()
        .flat_map(char::to_lowercase)
        .filter_map(|c| match c {
            c if c.is_alphanumeric() || c.is_whitespace() => Some(c),
            '-' | '/' | '—' | '–' => Some(' '),
            _ => None,
        })
        .collect();
    cleaned.split_whitespace().map(str::to_string).collect()
}

/// Substitutions + insertions + deletions over the reference word count (0 for two empty texts,
/// 1 per inserted word for an empty reference).
pub fn word_error_rate(reference: &str, hypothesis: &str) -> f64 {
    let r = normalise(reference);
    let h = normalise(hypothesis);
    let edits = edit_distance(&r, &h);
    if r.is_empty() {
        return h.len() as f64;
    }
    edits as f64 / r.len() as f64
}

pub fn edit_distance<T: PartialEq>(a: &[T], b: &[T]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, x) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, y) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(x != y);
            cur[j + 1] = substitute.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_up_to_case_and_punctuation_is_zero() {
        assert_eq!(
            word_error_rate("Let's ship it on Friday.", "lets ship it, on friday"),
            0.0
        );
        assert_eq!(normalise("Ticket OPS-1234."), ["ticket", "ops", "1234"]);
    }

    #[test]
    fn counts_substitutions_insertions_and_deletions() {
        // one substitution (sync→sink) out of 4 words
        assert_eq!(
            word_error_rate("the weekly sync today", "the weekly sink today"),
            0.25
        );
        // one deletion and one insertion
        assert_eq!(word_error_rate("a b c d", "a c d e"), 0.5);
        // everything missing
        assert_eq!(word_error_rate("a b", ""), 1.0);
        assert_eq!(word_error_rate("", ""), 0.0);
        assert_eq!(word_error_rate("", "x y"), 2.0);
    }

    #[test]
    fn edit_distance_is_levenshtein() {
        let w = |s: &str| s.chars().collect::<Vec<_>>();
        assert_eq!(edit_distance(&w("kitten"), &w("sitting")), 3);
        assert_eq!(edit_distance(&w(""), &w("abc")), 3);
    }
}
