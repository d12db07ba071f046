//! Which questions are well formed, and why the others are not.
use super::*;

#[test]
fn well_formed_questions_pass_and_bad_ones_fail() {
    assert!(well_formed("Who replaced General Zaluzhny in 2024?").is_ok());
    assert!(well_formed("What does the article say about Kursk?").is_ok());
    assert!(well_formed("Who replaced him?").is_err()); // too short, and a pronoun
    assert_eq!(
        well_formed("Why did they attack the province at night?"),
        Err(Rejection::DanglingPronoun)
    );
    assert_eq!(
        well_formed("What does the passage say about Kursk?"),
        Err(Rejection::RefersToText)
    );
    assert_eq!(
        well_formed("Kyiv attacked Kursk with missiles."),
        Err(Rejection::NoQuestionMark)
    );
    assert_eq!(
        well_formed("Kyiv attacked Kursk with missiles again?"),
        Err(Rejection::NoQuestionWord)
    );
    assert_eq!(
        well_formed("How much did the Kursk issue remain the Kursk issue?"),
        Err(Rejection::RepeatedPhrase)
    );
}
