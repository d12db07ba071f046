//! The names and numbers a question uses ("Who kicked Ethelred out?", "What happened in
//! 2015?"): a question that names something the articles never mention asks about something
//! else, however close its other words or its meaning come. Readers asking in their own words
//! describe instead of naming, so this is what still tells a near-topic question the articles
//! cannot answer (SQuAD's look-alikes often swap one name) from one put in other words.

use crate::text::is_stop_word;

/// The names of `question`: runs of words written as names (capitalised, not opening a
/// sentence) or holding a digit, as written, without a possessive "'s", one run per name
/// ("Angela Merkel"). A question in title case or capitals names nothing this way (most of
/// its words would look like names) but its numbers.
pub fn names(question: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut opens_sentence = true;
    let mut in_name = false;
    // Title case ("What Is The Tallest Mountain") capitalises small words too.
    let mut title_case = false;
    for raw in question.split_whitespace() {
        let word = raw.trim_matches(|c: char| !c.is_alphanumeric());
        let word = word
            .strip_suffix("’s")
            .or_else(|| word.strip_suffix("'s"))
            .unwrap_or(word);
        let mut named = false;
        if !word.is_empty() {
            let capital = word.chars().next().is_some_and(char::is_uppercase);
            title_case |= capital && !opens_sentence && is_stop_word(&word.to_lowercase());
            let number = word.chars().any(|c| c.is_ascii_digit());
            named = (capital && !opens_sentence) || number;
            if named {
                match out.last_mut() {
                    Some(last) if in_name && !number => {
                        last.push(' ');
                        last.push_str(word);
                    }
                    _ => out.push(word.to_string()),
                }
            }
            opens_sentence = false;
        }
        // A name ends at punctuation ("Kyiv, Kursk") or a word that is not one.
        in_name = named && raw.ends_with(|c: char| c.is_alphanumeric());
        if raw.ends_with(['.', '?', '!', ':', ';']) {
            opens_sentence = true;
        }
    }
    let shouted = !question.chars().any(char::is_lowercase);
    if title_case || shouted {
        out.retain(|w| w.chars().any(|c| c.is_ascii_digit()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::names;

    #[test]
    fn names_are_capitalised_words_after_the_first_and_numbers() {
        assert_eq!(names("Who kicked Ethelred out?"), vec!["Ethelred"]);
        assert_eq!(
            names("What did Kyiv’s forces do in Kursk in 2024?"),
            vec!["Kyiv", "Kursk", "2024"]
        );
        assert_eq!(
            names("What did Angela Merkel say to Zelensky, Kyiv and the Kremlin?"),
            vec!["Angela Merkel", "Zelensky", "Kyiv", "Kremlin"]
        );
        assert_eq!(names("Kyiv attacked what?"), Vec::<&str>::new());
        assert_eq!(names("What is the tallest mountain?"), Vec::<&str>::new());
        // A new sentence opens with a capital that names nothing.
        assert_eq!(
            names("Tell me about Normandy. Where is it?"),
            vec!["Normandy"]
        );
    }

    #[test]
    fn title_case_and_capitals_name_nothing_but_numbers() {
        assert_eq!(names("What Is The Tallest Mountain In 2020?"), vec!["2020"]);
        assert_eq!(names("WHO LEADS THE ARMY"), Vec::<&str>::new());
    }
}
