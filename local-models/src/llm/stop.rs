//! Stop sequences over streamed text: nothing at or past a stop string is ever handed out,
//! and text that might be the start of one is held back until the next piece decides.

pub struct StopMatcher {
    stops: Vec<String>,
    held: String,
}

pub enum Step {
    /// Text safe to emit (possibly empty).
    Emit(String),
    /// A stop string matched: the text before it, and then the end.
    Stopped(String),
}

impl StopMatcher {
    pub fn new(stops: &[String]) -> Self {
        Self {
            stops: stops.iter().filter(|s| !s.is_empty()).cloned().collect(),
            held: String::new(),
        }
    }

    pub fn push(&mut self, piece: &str) -> Step {
        self.held.push_str(piece);
        if let Some(at) = self
            .stops
            .iter()
            .filter_map(|s| self.held.find(s.as_str()))
            .min()
        {
            let before = self.held[..at].to_owned();
            self.held.clear();
            return Step::Stopped(before);
        }
        // Keep the longest tail that is a proper prefix of some stop string.
        let keep = self
            .stops
            .iter()
            .map(|s| longest_prefix_suffix(&self.held, s))
            .max()
            .unwrap_or(0);
        let cut = self.held.len() - keep;
        let out = self.held[..cut].to_owned();
        self.held.drain(..cut);
        Step::Emit(out)
    }

    /// The end of the stream: whatever was held back was not a stop string after all.
    pub fn finish(&mut self) -> String {
        std::mem::take(&mut self.held)
    }
}

/// The length of the longest suffix of `text` that is a proper prefix of `stop`, on
/// character boundaries.
fn longest_prefix_suffix(text: &str, stop: &str) -> usize {
    (1..stop.len())
        .rev()
        .filter(|&n| stop.is_char_boundary(n) && n <= text.len())
        .find(|&n| text.is_char_boundary(text.len() - n) && text.ends_with(&stop[..n]))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(stops: &[&str], pieces: &[&str]) -> (String, bool) {
        let stops: Vec<String> = stops.iter().map(|s| (*s).to_owned()).collect();
        let mut m = StopMatcher::new(&stops);
        let mut out = String::new();
        for p in pieces {
            match m.push(p) {
                Step::Emit(t) => out.push_str(&t),
                Step::Stopped(t) => {
                    out.push_str(&t);
                    return (out, true);
                }
            }
        }
        out.push_str(&m.finish());
        (out, false)
    }

    #[test]
    fn a_stop_within_one_piece_cuts_there() {
        assert_eq!(run(&["\n\n"], &["one\n\ntwo"]), ("one".into(), true));
    }

    #[test]
    fn a_stop_spanning_pieces_is_never_partly_emitted() {
        let stops = ["END"];
        let stops: Vec<String> = stops.iter().map(|s| (*s).to_owned()).collect();
        let mut m = StopMatcher::new(&stops);
        match m.push("text E") {
            Step::Emit(t) => assert_eq!(t, "text "),
            Step::Stopped(_) => panic!("no stop yet"),
        }
        match m.push("N") {
            Step::Emit(t) => assert_eq!(t, ""),
            Step::Stopped(_) => panic!("no stop yet"),
        }
        assert!(matches!(m.push("D and more"), Step::Stopped(t) if t.is_empty()));
    }

    #[test]
    fn a_false_start_is_released() {
        assert_eq!(run(&["END"], &["the E", "nd"]), ("the End".into(), false));
        assert_eq!(run(&["END"], &["the EN"]), ("the EN".into(), false));
    }

    #[test]
    fn the_earliest_of_several_stops_wins_and_unicode_is_kept_whole() {
        assert_eq!(run(&["b", "ä"], &["xäyb"]), ("x".into(), true));
        assert_eq!(run(&["äö"], &["aä", "ä", "öz"]), ("aä".into(), true));
        assert_eq!(run(&[], &["plain ", "text"]), ("plain text".into(), false));
    }
}
