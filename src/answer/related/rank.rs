//! Which suggestions are shown: an article's list, and the follow-ups after an answer (near
//! its sources first). No two shown share a sentence or a focus, and none was asked already.
use super::store::SuggestionStore;
use super::verify::Verified;
use super::{Source, Suggestion};
use crate::answer::AnswerResult;
use crate::index::SearchIndex;
use crate::text;
use std::collections::HashSet;
use std::ops::Range;

/// At most this many suggestions are kept per passage: enough to offer follow-ups near any
/// answer, few enough to build quickly.
pub const PER_PASSAGE: usize = 2;

/// Suggestions listed with an article ("Explore related questions").
pub const ARTICLE_LIST: usize = 8;

/// At most this many generic templates ([`Suggestion::is_generic`]) in one list.
pub const MAX_GENERIC: usize = 2;

/// A list with fewer specific suggestions than this is topped up with generic ones beyond
/// [`MAX_GENERIC`] (a reader that writes no usable questions, such as SmolLM2, leaves only
/// templates).
pub const MIN_LIST: usize = 4;

/// Whether two suggestions of these focuses and sources would ask about one thing. A template
/// is its focus ("What does the article say about Kyiv?"), so it clashes with any question
/// of the same focus. Two written questions (the model's, a reader's) from different
/// sentences say which fact they ask ("What is Kyiv's current offensive strategy …?", "What
/// does Kyiv's use of … weaponry demonstrate?"): a shared focus is no clash.
fn same_focus(a: (&str, Source), b: (&str, Source)) -> bool {
    let both_written = a.1.is_written() && b.1.is_written();
    !both_written && text::normalise(a.0) == text::normalise(b.0)
}

/// Up to `n` suggestions from `pool` in its order, no two on the same sentence or focus,
/// none already asked, at most [`MAX_GENERIC`] generic unless the list would otherwise be
/// shorter than [`MIN_LIST`] (the generic ones left out then top it up, last). The pool is
/// read only as far as needed.
pub fn pick_distinct<'a>(
    pool: impl IntoIterator<Item = &'a Suggestion>,
    asked: &[String],
    n: usize,
) -> Vec<&'a Suggestion> {
    let asked: HashSet<String> = asked.iter().map(|q| text::normalise(q)).collect();
    let clash = |out: &[&Suggestion], s: &Suggestion| {
        out.iter().any(|o| {
            (o.article_id == s.article_id && o.sentence == s.sentence)
                || same_focus((&o.focus, o.source), (&s.focus, s.source))
        })
    };
    let mut out: Vec<&Suggestion> = Vec::new();
    let mut spare: Vec<&Suggestion> = Vec::new();
    for s in pool {
        if out.len() == n {
            break;
        }
        if asked.contains(&text::normalise(&s.question)) || clash(&out, s) {
            continue;
        }
        if s.is_generic() && out.iter().filter(|o| o.is_generic()).count() >= MAX_GENERIC {
            if spare.len() < MIN_LIST {
                spare.push(s);
            }
            continue;
        }
        out.push(s);
    }
    for s in spare {
        if out.len() >= n.min(MIN_LIST) {
            break;
        }
        if !clash(&out, s) {
            out.push(s);
        }
    }
    out
}

/// The best [`PER_PASSAGE`] verified candidates of each passage, one per sentence and focus,
/// the model's first (they ask about a specific fact; templates are generic).
pub fn best_per_passage(
    index: &SearchIndex,
    article_id: &str,
    all: Vec<Verified>,
) -> Vec<Verified> {
    let mut out: Vec<Verified> = Vec::new();
    for p in index.passages_of(article_id) {
        let mut here: Vec<&Verified> = all
            .iter()
            .filter(|s| p.range.start <= s.sentence.start && s.sentence.end <= p.range.end)
            .collect();
        here.sort_by_key(|s| u8::from(!s.source.is_written()));
        let mut taken = 0;
        for s in here {
            if taken == PER_PASSAGE {
                break;
            }
            let clash = out.iter().any(|o| {
                o.sentence == s.sentence
                    || same_focus((&o.focus, o.source), (&s.focus, s.source))
                    || text::normalise(&o.question) == text::normalise(&s.question)
            });
            if !clash {
                out.push(s.clone());
                taken += 1;
            }
        }
    }
    out
}

/// The order an article's list is offered in, each group in the article's order: the model's
/// questions (each answered in the reader's own phrase: verification rejects one it answers
/// by quoting its evidence), then templates.
pub fn article_order(list: &[Suggestion]) -> impl Iterator<Item = &Suggestion> {
    list.iter()
        .filter(|s| s.source.is_written())
        .chain(list.iter().filter(|s| !s.source.is_written()))
}

fn inside(outer: &Range<usize>, inner: &Range<usize>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end
}

impl SuggestionStore {
    /// The "Explore related questions" list of an article, distinct, in [`article_order`].
    pub fn for_article(&self, article_id: &str, n: usize) -> Vec<&Suggestion> {
        let Some(list) = self.by_article.get(article_id) else {
            return Vec::new();
        };
        pick_distinct(article_order(list), &[], n)
    }

    /// The follow-ups of a result: near its sources; for a declined question (or one with
    /// no evidence), the best questions of the article it came nearest (or of the corpus).
    pub fn follow_ups(
        &self,
        index: &SearchIndex,
        result: &AnswerResult,
        asked: &[String],
        n: usize,
    ) -> Vec<String> {
        let picked = if result.declined || result.evidence.is_empty() {
            let articles: Vec<&str> = match result.evidence.first() {
                Some(e) => vec![e.article_id.as_str()],
                None => self.by_article.keys().map(String::as_str).collect(),
            };
            let pool: Vec<&Suggestion> = articles
                .iter()
                .flat_map(|a| self.for_article(a, n))
                .collect();
            pick_distinct(pool, asked, n)
        } else {
            self.near_sources(index, result, asked, n)
        };
        picked.into_iter().map(|s| s.question.clone()).collect()
    }

    /// Suggestions from the answer's passages and their neighbours first, then from the
    /// article, then from other articles; none about the very sentence just quoted.
    fn near_sources<'a>(
        &'a self,
        index: &SearchIndex,
        result: &AnswerResult,
        asked: &[String],
        n: usize,
    ) -> Vec<&'a Suggestion> {
        let sources: Vec<(&str, &Range<usize>)> = result
            .evidence
            .iter()
            .map(|e| (e.article_id.as_str(), &e.passage_range))
            .collect();
        let articles: HashSet<&str> = sources.iter().map(|(a, _)| *a).collect();
        let mut ranked: Vec<(usize, &Suggestion)> = Vec::new();
        // Only the answer's own articles are ranked: this runs on every request, and the
        // corpus may hold far more suggestions than those.
        for s in articles
            .iter()
            .filter_map(|a| self.by_article.get(*a))
            .flatten()
        {
            let on_quoted = result
                .evidence
                .iter()
                .any(|e| e.article_id == s.article_id && inside(&e.highlight, &s.sentence));
            if on_quoted {
                continue;
            }
            let passages = index.passages_of(&s.article_id);
            let ordinal = |x: usize| {
                passages
                    .iter()
                    .position(|p| p.range.start <= x && x < p.range.end)
                    .unwrap_or(0)
            };
            let distance = sources
                .iter()
                .filter(|(a, _)| *a == s.article_id)
                .map(|(_, r)| {
                    if inside(r, &s.sentence) {
                        0
                    } else {
                        ordinal(s.sentence.start).abs_diff(ordinal(r.start))
                    }
                })
                .min()
                .unwrap_or(usize::MAX / 4);
            let source_rank = usize::from(!s.source.is_written());
            ranked.push((distance * 2 + source_rank, s));
        }
        ranked.sort_by_key(|(rank, s)| (*rank, s.sentence.start));
        let mut asked_all: Vec<String> = asked.to_vec();
        asked_all.push(result.question.clone());
        // Other articles' suggestions only top the list up, read lazily as needed.
        let others = self
            .all()
            .filter(|s| !articles.contains(s.article_id.as_str()));
        pick_distinct(
            ranked.into_iter().map(|(_, s)| s).chain(others),
            &asked_all,
            n,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::Source;
    use super::*;
    use crate::answer::{compose, AnswerConfig, Draft, Prepared};

    fn suggestion(question: &str, source: Source, at: usize) -> Suggestion {
        let prepared = Prepared {
            question: question.into(),
            read_question: question.into(),
            query: question.into(),
            evidence: Vec::new(),
            decline: None,
            messages: Vec::new(),
            shown: 0,
            reading: Vec::new(),
            coverage: 1.0,
            sentence_coverage: 1.0,
            similarity: None,
            passage_similarity: None,
            retrieval_ms: 0.0,
            started: std::time::Instant::now(),
        };
        Suggestion {
            question: question.into(),
            source,
            article_id: "a".into(),
            sentence: at..at + 10,
            focus: question.into(),
            answer: compose(&AnswerConfig::default(), prepared, Draft::default()),
        }
    }

    fn generic(name: &str, at: usize) -> Suggestion {
        suggestion(
            &format!("{}{name}?", super::super::GENERIC_OPENING),
            Source::Template,
            at,
        )
    }

    fn questions(list: &[&Suggestion]) -> Vec<String> {
        list.iter().map(|s| s.question.clone()).collect()
    }

    #[test]
    fn written_questions_come_first_in_the_articles_order_and_templates_last() {
        let first = suggestion("What country launched the attacks?", Source::Model, 0);
        let direct = suggestion("Who replaced General Zaluzhny?", Source::Model, 60);
        let linked = suggestion("Why did Bakhmut fall?", Source::Linked, 90);
        let list = vec![generic("Kursk", 20), first, direct, linked];
        assert_eq!(
            article_order(&list)
                .map(|s| s.question.as_str())
                .collect::<Vec<_>>(),
            vec![
                "What country launched the attacks?",
                "Who replaced General Zaluzhny?",
                "Why did Bakhmut fall?",
                "What does the article say about Kursk?",
            ]
        );
    }

    #[test]
    fn written_questions_may_share_a_focus_and_templates_may_not() {
        let focused = |question: &str, source: Source, at: usize| {
            let mut s = suggestion(question, source, at);
            s.focus = "Kyiv".into();
            s
        };
        let pool = vec![
            focused(
                "What is Kyiv's current offensive strategy?",
                Source::Model,
                0,
            ),
            focused(
                "What does Kyiv's use of French weaponry demonstrate?",
                Source::Model,
                20,
            ),
            focused(
                "What does the article say about Kyiv?",
                Source::Template,
                40,
            ),
        ];
        let picked: Vec<&str> = pick_distinct(&pool, &[], 8)
            .iter()
            .map(|s| s.question.as_str())
            .collect();
        assert_eq!(
            picked,
            vec![
                "What is Kyiv's current offensive strategy?",
                "What does Kyiv's use of French weaponry demonstrate?"
            ]
        );
    }

    #[test]
    fn at_most_two_generic_templates_unless_the_list_would_be_short() {
        let pool = vec![
            generic("Kursk", 0),
            generic("Kyiv", 20),
            generic("Europe", 40),
            suggestion("Who replaced General Zaluzhny?", Source::Model, 60),
            suggestion("Which missiles did Kyiv fire?", Source::Model, 80),
            suggestion("Why did Bakhmut fall?", Source::Model, 100),
            generic("Donbas", 120),
        ];
        let shown = pick_distinct(&pool, &[], 8);
        assert_eq!(shown.len(), 5);
        assert_eq!(shown.iter().filter(|s| s.is_generic()).count(), MAX_GENERIC);
        // Only templates: the list is topped up to MIN_LIST, in the pool's order.
        let templates = vec![
            generic("Kursk", 0),
            generic("Kyiv", 20),
            generic("Europe", 40),
            generic("Donbas", 60),
            generic("Mariupol", 80),
        ];
        let shown = pick_distinct(&templates, &[], 8);
        assert_eq!(
            questions(&shown),
            questions(&templates.iter().take(MIN_LIST).collect::<Vec<_>>())
        );
        // A question already asked is never shown; one list of 2 is not topped up beyond 2.
        let asked = vec![pool[3].question.clone()];
        let shown = pick_distinct(&pool, &asked, 2);
        assert_eq!(shown.len(), 2);
        assert!(questions(&pick_distinct(&pool, &asked, 8))
            .iter()
            .all(|q| q != &asked[0]));
    }
}
