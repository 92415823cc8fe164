//! Stop sequences over streamed text. Text arrives in token-sized pieces, and a stop string
//! can span several of them, so any tail that could still grow into a stop string is held
//! back until the next piece settles it: nothing at or past a stop string is ever released.

#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Pushed {
    /// Text that can safely go to the client.
    pub(crate) emit: String,
    /// A stop string matched; `emit` ends where it began and generation must end.
    pub(crate) stopped: bool,
}

#[derive(Debug)]
pub(crate) struct StopMatcher {
    stops: Vec<String>,
    held: String,
}

impl StopMatcher {
    pub(crate) fn new(stops: &[String]) -> Self {
        // An empty stop string would match everywhere; OpenAI's API ignores it too.
        let stops = stops.iter().filter(|s| !s.is_empty()).cloned().collect();
        Self {
            stops,
            held: String::new(),
        }
    }

    pub(crate) fn push(&mut self, text: &str) -> Pushed {
        self.held.push_str(text);
        if let Some(at) = self.earliest_match() {
            self.held.truncate(at);
            return Pushed {
                emit: std::mem::take(&mut self.held),
                stopped: true,
            };
        }
        let keep = self.longest_partial_suffix();
        let emit = self.held[..self.held.len() - keep].to_string();
        self.held.drain(..self.held.len() - keep);
        Pushed {
            emit,
            stopped: false,
        }
    }

    /// What was held back when generation ends without a match: it never became a stop string.
    pub(crate) fn finish(&mut self) -> String {
        std::mem::take(&mut self.held)
    }

    fn earliest_match(&self) -> Option<usize> {
        self.stops
            .iter()
            .filter_map(|s| self.held.find(s.as_str()))
            .min()
    }

    /// The length in bytes of the longest suffix of the held text that is a proper prefix of
    /// some stop string. Only char boundaries are tried, so the split is always valid UTF-8.
    fn longest_partial_suffix(&self) -> usize {
        self.held
            .char_indices()
            .map(|(i, _)| i)
            .find(|&i| {
                let tail = &self.held[i..];
                self.stops
                    .iter()
                    .any(|s| s.len() > tail.len() && s.starts_with(tail))
            })
            .map_or(0, |i| self.held.len() - i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds the pieces through a matcher; returns everything emitted and whether it stopped.
    fn run(stops: &[&str], pieces: &[&str]) -> (String, bool) {
        let stops: Vec<String> = stops.iter().map(|s| s.to_string()).collect();
        let mut m = StopMatcher::new(&stops);
        let mut out = String::new();
        for p in pieces {
            let pushed = m.push(p);
            out.push_str(&pushed.emit);
            if pushed.stopped {
                return (out, true);
            }
        }
        out.push_str(&m.finish());
        (out, false)
    }

    #[test]
    fn no_stops_passes_everything_through_at_once() {
        let mut m = StopMatcher::new(&[]);
        assert_eq!(m.push("abc").emit, "abc");
        assert_eq!(m.finish(), "");
    }

    #[test]
    fn a_stop_inside_one_piece_cuts_before_it() {
        assert_eq!(run(&["END"], &["abcENDdef"]), ("abc".into(), true));
    }

    #[test]
    fn a_stop_spanning_pieces_is_never_partly_emitted() {
        let stops = vec!["\n\nUser:".to_string()];
        let mut m = StopMatcher::new(&stops);
        assert_eq!(m.push("Hello").emit, "Hello");
        let p = m.push("\n");
        assert_eq!((p.emit.as_str(), p.stopped), ("", false));
        assert_eq!(m.push("\nUs").emit, "");
        let p = m.push("er: hi");
        assert_eq!((p.emit.as_str(), p.stopped), ("", true));
    }

    #[test]
    fn a_held_tail_that_diverges_is_released() {
        let stops = vec!["STOP".to_string()];
        let mut m = StopMatcher::new(&stops);
        assert_eq!(m.push("aST").emit, "a");
        assert_eq!(m.push("Oy").emit, "STOy");
    }

    #[test]
    fn a_held_tail_is_flushed_at_the_end() {
        assert_eq!(run(&["STOP"], &["aS", "TO"]), ("aSTO".into(), false));
    }

    #[test]
    fn the_earliest_of_several_stops_wins() {
        assert_eq!(run(&["yz", "b"], &["abcxyz"]), ("a".into(), true));
        assert_eq!(run(&["bcd", "cd"], &["abcde"]), ("a".into(), true));
    }

    #[test]
    fn a_stop_completed_after_a_false_start() {
        // "aab": the first "a" of "ab" is a false start, the held tail must restart matching.
        assert_eq!(
            run(&["ab"], &["x", "a", "a", "b", "c"]),
            ("xa".into(), true)
        );
    }

    #[test]
    fn a_stop_at_the_very_start() {
        assert_eq!(run(&["<|"], &["<", "|im"]), ("".into(), true));
    }

    #[test]
    fn unicode_stops_and_text_split_on_char_boundaries() {
        assert_eq!(
            run(&["日本"], &["こんにちは日", "本語"]),
            ("こんにちは".into(), true)
        );
        // The held part starts at a char boundary even when the stop shares a lead byte.
        let stops = vec!["éa".to_string()];
        let mut m = StopMatcher::new(&stops);
        assert_eq!(m.push("cafè").emit, "cafè");
        assert_eq!(m.push("é").emit, "");
        assert_eq!(m.push("b").emit, "éb");
        assert_eq!(run(&["🙂!"], &["ok 🙂", "?"]), ("ok 🙂?".into(), false));
    }

    #[test]
    fn empty_stop_strings_are_ignored() {
        assert_eq!(run(&[""], &["abc"]), ("abc".into(), false));
    }

    #[test]
    fn emitted_text_never_contains_a_stop_for_any_split() {
        let text = "one two <stop> three";
        for cut in 1..text.len() {
            let (a, b) = text.split_at(cut);
            let (out, stopped) = run(&["<stop>"], &[a, b]);
            assert_eq!((out.as_str(), stopped), ("one two ", true), "cut at {cut}");
        }
        let chars: Vec<String> = text.chars().map(String::from).collect();
        let pieces: Vec<&str> = chars.iter().map(String::as_str).collect();
        assert_eq!(run(&["<stop>"], &pieces), ("one two ".into(), true));
    }
}
