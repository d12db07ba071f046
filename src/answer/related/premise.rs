//! A question's premise against its source sentence. A model rewording a sentence can move a
//! name into a place its source never puts it: "For Russia, the Donbas valley and … Mariupol
//! are non-negotiable" became "What is the status of the Donbas valley and Mariupol in
//! Russia?", which asks as if they were in Russia. The answer check reads the answer, not
//! the question, so such a question passes it with a true answer ("non-negotiable").
use crate::text;

/// Prepositions that put something somewhere.
const LOCATIVE: &[&str] = &["in", "at", "inside", "within", "into"];

/// Prepositions that relate a name to something without placing anything there.
const RELATIONAL: &[&str] = &["for", "against", "by", "with", "of", "about", "to"];

/// Words of `text` as [`text::words()`] cuts them (lower case, possessives cut), each with
/// whether it was typed with a capital.
fn tokens(text: &str) -> Vec<(String, bool)> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '’'))
        .filter_map(|raw| {
            let capital = raw.chars().find(|c| c.is_alphanumeric())?.is_uppercase();
            let word = text::words(raw).into_iter().next()?;
            Some((word, capital))
        })
        .collect()
}

/// The name a question places somewhere ("in Russia") that its source only relates to
/// something else ("for Russia"), never places; `None` when the question's places agree with
/// the source.
pub fn misplaced(question: &str, source: &str) -> Option<String> {
    let asked = tokens(question);
    let said: Vec<String> = tokens(source).into_iter().map(|(w, _)| w).collect();
    for pair in asked.windows(2) {
        let ((preposition, _), (name, capital)) = (&pair[0], &pair[1]);
        if !LOCATIVE.contains(&preposition.as_str()) || !capital {
            continue;
        }
        let before: Vec<&str> = said
            .windows(2)
            .filter(|p| &p[1] == name)
            .map(|p| p[0].as_str())
            .collect();
        let placed = before.iter().any(|p| LOCATIVE.contains(p));
        let related = before.iter().any(|p| RELATIONAL.contains(p));
        if related && !placed {
            return Some(format!("{preposition} {name}"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = "For Russia, the Donbas valley and the strategic port of Mariupol are \
        non-negotiable and must remain as they are, regardless of U.S. or European interventions.";

    #[test]
    fn a_name_moved_into_a_place_its_source_does_not_put_it_is_caught() {
        assert_eq!(
            misplaced(
                "What is the status of the Donbas valley and Mariupol in Russia?",
                SOURCE
            ),
            Some("in russia".to_string())
        );
    }

    #[test]
    fn places_the_source_gives_and_names_it_does_not_relate_pass() {
        assert_eq!(
            misplaced("What does Russia consider non-negotiable?", SOURCE),
            None
        );
        let source = "For two months, Kyiv has paused offensive moves in Russia’s southwestern \
            province, while the Kremlin has deployed North Korean reinforcements to the region.";
        assert_eq!(
            misplaced(
                "What is Kyiv's current offensive strategy in Russia's southwestern province?",
                source
            ),
            None
        );
        // A name the source does not put after any preposition is left to the other checks.
        let source = "The disastrous outcome of the Bakhmut defense still weighs heavily.";
        assert_eq!(misplaced("What happened in Bakhmut?", source), None);
    }
}
