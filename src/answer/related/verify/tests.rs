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

#[test]
fn a_question_names_what_it_asks_about_and_asks_for_a_fact() {
    // Made from one sentence, these lean on what came before it.
    for q in [
        "Who launched the attacks?",
        "When was the target announced?",
        "When did the service start?",
    ] {
        assert_eq!(well_formed(q), Err(Rejection::NamesNothing), "{q}");
    }
    assert!(well_formed("When did the service start in 1993?").is_ok());
    assert!(well_formed("Who launched the attacks on Kursk?").is_ok());
    for q in [
        "What are the key points about the U.S. involvement in Ukraine?",
        "What is the significance of the 1,200 square kilometers in Kursk?",
    ] {
        assert_eq!(well_formed(q), Err(Rejection::AsksForSummary), "{q}");
    }
}

#[test]
fn an_answer_that_mostly_repeats_its_question_tells_nothing() {
    assert!(repeats_question(
        "Why might a company experience a loss of advertising revenue due to disruptions?",
        "Possible loss of advertising revenue [1]."
    ));
    assert!(repeats_question(
        "What was BSkyB's relationship with ITV Digital's free-to-air replacement, Freeview?",
        "BSkyB joined ITV Digital's free-to-air replacement, Freeview [1]."
    ));
    assert!(repeats_question("Who replaced General Zaluzhny?", "[1]."));
    assert!(!repeats_question(
        "What is Russia's stance on the Donbas valley and Mariupol?",
        "Non-negotiable [1]."
    ));
    assert!(!repeats_question(
        "What is Vladimir Putin's stance on the Kursk issue?",
        "Determined not to let the Kursk issue remain in focus [1]."
    ));
    // Half new is enough: the list names what the question does not.
    assert!(!repeats_question(
        "What Sky products are included in the Sky Q range?",
        "Sky Q, Sky Q Silver and Sky Q Mini [2]."
    ));
}
