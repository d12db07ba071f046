//! The meaning gate's bar, measured on the corpus it guards. How near a question comes to the
//! articles (its best sentence's cosine plus its best passage's) depends on the corpus as much
//! as on the question: hundreds of encyclopaedic passages offer an everyday question something
//! close, one news article about a war offers it little. So the index is asked a fixed set of
//! everyday questions about nothing in particular, and the bar sits a margin above how near
//! they come on average, between a floor and `min_meaning`.
//!
//! Measured (docs/benchmarks/2026-12-06-meaning-bar.md): these questions come to 0.50-0.56 of
//! the SQuAD articles (bar 0.7, as before) and to 0.21 of the seed article (bar 0.5), where a
//! reader's own words about the article come to 0.61 and above.
use super::config::AnswerConfig;
use crate::embed::{EmbedError, Embedder};
use crate::index::SearchIndex;
use crate::progress::Progress;

/// Everyday questions on many subjects (places, history, science, sport, food, health, money,
/// technology, the arts, travel, animals, weather, politics, games), about no corpus in
/// particular.
const EVERYDAY_QUESTIONS: [&str; 64] = [
    "What is the capital of Canada?",
    "Which river is the longest in Africa?",
    "How tall is Mount Everest?",
    "What language is spoken in Brazil?",
    "Which ocean lies between Africa and Australia?",
    "What is the population of Tokyo?",
    "Who painted the Mona Lisa?",
    "Who wrote the play Romeo and Juliet?",
    "When did the Second World War end?",
    "Who was the first president of the United States?",
    "In which year did the Berlin Wall fall?",
    "Which empire built Machu Picchu?",
    "What is the chemical symbol for gold?",
    "How fast does light travel?",
    "What causes the seasons on Earth?",
    "How many bones are in the human body?",
    "What is photosynthesis?",
    "Which planet is closest to the sun?",
    "Who won the football World Cup in 2014?",
    "How many players are on a basketball team?",
    "Which city hosted the 2012 Summer Olympics?",
    "How long is a marathon?",
    "How do you make a sourdough starter?",
    "What temperature should chicken be cooked to?",
    "Which spice gives curry its yellow colour?",
    "What is the best way to store fresh herbs?",
    "How does a vaccine train the immune system?",
    "What are the symptoms of the flu?",
    "How much sleep does an adult need?",
    "What vitamin do we get from sunlight?",
    "Who founded Microsoft?",
    "What does a central bank do?",
    "How is inflation measured?",
    "What is the stock price of Apple?",
    "Which company makes the iPhone?",
    "How do I reset my wifi router?",
    "What programming language is used for web pages?",
    "How does a search engine rank pages?",
    "Who directed the film Titanic?",
    "Which band recorded Abbey Road?",
    "Who won the best actor award at the Oscars last year?",
    "What is the plot of the novel Moby Dick?",
    "How many strings does a violin have?",
    "What is the tallest building in the world?",
    "Who designed the Eiffel Tower?",
    "When was the printing press invented?",
    "How do airplanes stay in the air?",
    "What is the speed limit on German motorways?",
    "How much does a train ticket from Paris to London cost?",
    "What is the weather forecast for tomorrow?",
    "How do I apply for a passport?",
    "What are the opening hours of the museum?",
    "Which breed of dog is the most popular?",
    "How long do cats live?",
    "What do pandas eat?",
    "How are hurricanes named?",
    "What causes earthquakes?",
    "How much rain falls in the Amazon rainforest each year?",
    "Who is the current prime minister of Japan?",
    "How many members does the European Parliament have?",
    "What are the rules of chess?",
    "How do you solve a quadratic equation?",
    "What is the meaning of life?",
    "Can you recommend a good book?",
];

/// How near everyday questions come to the index on average (the best sentence's cosine plus
/// the best passage's); `None` for an index without vectors.
pub fn everyday_nearness(
    index: &SearchIndex,
    embedder: &Embedder,
) -> Result<Option<f32>, EmbedError> {
    let Some(vectors) = index.vectors() else {
        return Ok(None);
    };
    let questions = embedder.embed_all(&EVERYDAY_QUESTIONS, &Progress::silent())?;
    let nearness: Vec<f32> = questions
        .iter()
        .filter_map(|q| vectors.best_sentence_and_passage(&vectors.similarities(q)))
        .map(|(sentence, passage)| sentence + passage)
        .collect();
    if nearness.is_empty() {
        return Ok(None);
    }
    Ok(Some(nearness.iter().sum::<f32>() / nearness.len() as f32))
}

/// The meaning gate's bar for a corpus everyday questions come `everyday` near: a margin above
/// it, within the floor and `min_meaning`; `min_meaning` when it is not known.
pub fn meaning_bar(config: &AnswerConfig, everyday: Option<f32>) -> f32 {
    let highest = config.min_meaning;
    match everyday {
        Some(near) => {
            (near + config.meaning_margin).clamp(config.min_meaning_floor.min(highest), highest)
        }
        None => highest,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_sits_a_margin_above_everyday_questions_within_its_floor_and_ceiling() {
        let config = AnswerConfig::default();
        let (floor, ceiling, margin) = (
            config.min_meaning_floor,
            config.min_meaning,
            config.meaning_margin,
        );
        assert!(floor < ceiling);
        let between = (floor + ceiling) / 2.0 - margin;
        assert!((meaning_bar(&config, Some(between)) - (between + margin)).abs() < 1e-6);
        assert_eq!(meaning_bar(&config, Some(-1.0)), floor);
        assert_eq!(meaning_bar(&config, Some(2.0)), ceiling);
        assert_eq!(meaning_bar(&config, None), ceiling);
        assert!(EVERYDAY_QUESTIONS.iter().all(|q| q.ends_with('?')));
    }
}
