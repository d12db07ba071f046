//! Sentence-aware splitting of an article into overlapping passages.
use super::Article;
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// How articles are cut into passages. Sizes are in words: about 60–120 words suits a small
/// model's context and keeps BM25 focused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkConfig {
    /// A passage that reaches this many words at a paragraph end is closed there.
    pub min_words: usize,
    /// A passage is closed once it holds this many words.
    pub target_words: usize,
    /// No passage grows past this, unless one sentence alone is longer (then that sentence
    /// is cut at word boundaries into pieces of at most this many words).
    pub max_words: usize,
    /// Sentences repeated at the start of the next passage of the same paragraph.
    pub overlap_sentences: usize,
}

impl Default for ChunkConfig {
    fn default() -> Self {
        ChunkConfig {
            min_words: 60,
            target_words: 100,
            max_words: 120,
            overlap_sentences: 1,
        }
    }
}

/// A passage of an article: a run of whole sentences, located by its byte range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Passage {
    pub article_id: String,
    /// Position of the passage within its article, from 0.
    pub ordinal: usize,
    /// `&article.text[range] == text`.
    pub range: Range<usize>,
    pub text: String,
    /// Byte ranges of the passage's sentences inside the article text.
    pub sentences: Vec<Range<usize>>,
}

impl Passage {
    /// The id used in the index and in citations: `article-id#ordinal`.
    pub fn id(&self) -> String {
        format!("{}#{}", self.article_id, self.ordinal)
    }
}

/// One sentence, and whether a paragraph ends after it.
#[derive(Debug, Clone)]
struct Unit {
    range: Range<usize>,
    words: usize,
    paragraph_end: bool,
}

/// Byte ranges of the sentences of `text`, trimmed of surrounding white space. Sentences
/// never cross a paragraph break (a blank line, or a single newline, which in this corpus
/// format separates paragraphs too). Abbreviations ("U.S.", "Gen."), numbers ("1,200",
/// "3.5"), quotes and dashes are handled by the `sentencex` segmenter.
pub fn split_sentences(text: &str) -> Vec<Range<usize>> {
    sentence_units(text).into_iter().map(|u| u.range).collect()
}

fn paragraphs(text: &str) -> impl Iterator<Item = Range<usize>> + '_ {
    let mut offset = 0;
    text.split_inclusive('\n').filter_map(move |line| {
        let start = offset;
        offset += line.len();
        let trimmed = trim_range(text, start..offset);
        (!trimmed.is_empty()).then_some(trimmed)
    })
}

fn trim_range(text: &str, range: Range<usize>) -> Range<usize> {
    let slice = &text[range.clone()];
    let lead = slice.len() - slice.trim_start().len();
    let trail = slice.len() - slice.trim_end().len();
    if lead == slice.len() {
        return range.start..range.start;
    }
    range.start + lead..range.end - trail
}

fn word_count(s: &str) -> usize {
    s.split_whitespace().count()
}

fn sentence_units(text: &str) -> Vec<Unit> {
    let mut units = Vec::new();
    for para in paragraphs(text) {
        let para_text = &text[para.clone()];
        let mut para_units: Vec<Unit> = sentencex::get_sentence_boundaries("en", para_text)
            .into_iter()
            .filter_map(|b| {
                // Guard against a boundary that is not on a char boundary: fall back to the
                // paragraph rather than panic on a slice.
                let (s, e) = (
                    b.start_byte.min(para_text.len()),
                    b.end_byte.min(para_text.len()),
                );
                if !(para_text.is_char_boundary(s) && para_text.is_char_boundary(e)) || s >= e {
                    return None;
                }
                let r = trim_range(text, para.start + s..para.start + e);
                (!r.is_empty()).then(|| Unit {
                    words: word_count(&text[r.clone()]),
                    range: r,
                    paragraph_end: false,
                })
            })
            .collect();
        if !covers(&para_units, &para, text) {
            // The segmenter lost part of the paragraph: keep the whole paragraph as one unit.
            para_units = vec![Unit {
                words: word_count(para_text),
                range: para.clone(),
                paragraph_end: false,
            }];
        }
        if let Some(last) = para_units.last_mut() {
            last.paragraph_end = true;
        }
        units.extend(para_units);
    }
    units
}

/// True when the units tile the paragraph in order, with only white space between them.
fn covers(units: &[Unit], para: &Range<usize>, text: &str) -> bool {
    let mut pos = para.start;
    for u in units {
        if u.range.start < pos || !text[pos..u.range.start].trim().is_empty() {
            return false;
        }
        pos = u.range.end;
    }
    !units.is_empty() && text[pos..para.end].trim().is_empty()
}

/// Cuts a sentence longer than `max_words` into pieces of at most `max_words` words.
fn split_long(text: &str, unit: Unit, max_words: usize) -> Vec<Unit> {
    if unit.words <= max_words {
        return vec![unit];
    }
    let slice = &text[unit.range.clone()];
    let mut pieces = Vec::new();
    let mut words = 0;
    let mut piece_start = 0;
    let mut last_word_end = 0;
    for (idx, word) in slice.split_whitespace().map(|w| {
        let off = w.as_ptr() as usize - slice.as_ptr() as usize;
        (off, w)
    }) {
        if words == max_words {
            pieces.push(Unit {
                range: unit.range.start + piece_start..unit.range.start + last_word_end,
                words,
                paragraph_end: false,
            });
            piece_start = idx;
            words = 0;
        }
        words += 1;
        last_word_end = idx + word.len();
    }
    pieces.push(Unit {
        range: unit.range.start + piece_start..unit.range.start + last_word_end,
        words,
        paragraph_end: unit.paragraph_end,
    });
    pieces
}

/// What is wrong with passages cut from `article`, if anything: each passage's range must lie
/// in the text on character boundaries with `text` its slice, ordinals must count from 0, and
/// each sentence must be a non-empty range on character boundaries inside its passage, in
/// order. [`chunk_article`] always gives an empty list (the fuzz targets and tests check it).
pub fn passage_faults(article: &Article, passages: &[Passage]) -> Vec<String> {
    let text = &article.text;
    let valid = |r: &Range<usize>| {
        r.start <= r.end
            && r.end <= text.len()
            && text.is_char_boundary(r.start)
            && text.is_char_boundary(r.end)
    };
    let mut faults = Vec::new();
    for (i, p) in passages.iter().enumerate() {
        if p.ordinal != i {
            faults.push(format!("passage {i} has ordinal {}", p.ordinal));
        }
        if p.article_id != article.id {
            faults.push(format!("passage {i} names article {:?}", p.article_id));
        }
        if !valid(&p.range) {
            faults.push(format!(
                "passage {i}: range {:?} is not in the text",
                p.range
            ));
            continue;
        }
        if text[p.range.clone()] != p.text {
            faults.push(format!("passage {i}: text is not the slice of its range"));
        }
        if p.sentences.is_empty() {
            faults.push(format!("passage {i} has no sentence"));
        }
        let mut previous_end = p.range.start;
        for s in &p.sentences {
            if !valid(s) || s.start >= s.end {
                faults.push(format!(
                    "passage {i}: sentence {s:?} is not a range of the text"
                ));
            } else if s.start < previous_end || s.end > p.range.end {
                faults.push(format!(
                    "passage {i}: sentence {s:?} is out of order or outside {:?}",
                    p.range
                ));
            } else {
                previous_end = s.end;
            }
        }
    }
    faults
}

/// Splits an article into passages of whole sentences. A passage closes at a paragraph end
/// once it has `min_words`, or anywhere once it has `target_words`, and never grows past
/// `max_words`. The next passage repeats the last `overlap_sentences` sentences when it
/// continues the same paragraph; a new paragraph starts afresh, as it starts a new thought.
pub fn chunk_article(article: &Article, config: &ChunkConfig) -> Vec<Passage> {
    let text = &article.text;
    let max_words = config.max_words.max(1);
    let units: Vec<Unit> = sentence_units(text)
        .into_iter()
        .flat_map(|u| split_long(text, u, max_words))
        .collect();
    let mut passages = Vec::new();
    let mut start = 0;
    while start < units.len() {
        let mut end = start;
        let mut words = 0;
        while end < units.len() {
            let next = &units[end];
            if end > start && words + next.words > max_words {
                break;
            }
            words += next.words;
            end += 1;
            if next.paragraph_end && words >= config.min_words || words >= config.target_words {
                break;
            }
        }
        let range = units[start].range.start..units[end - 1].range.end;
        passages.push(Passage {
            article_id: article.id.clone(),
            ordinal: passages.len(),
            text: text[range.clone()].to_string(),
            range,
            sentences: units[start..end].iter().map(|u| u.range.clone()).collect(),
        });
        if end >= units.len() {
            break;
        }
        let continues_paragraph = !units[end - 1].paragraph_end;
        let overlap = if continues_paragraph {
            config.overlap_sentences.min(end - start - 1)
        } else {
            0
        };
        start = end - overlap;
    }
    passages
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn article(text: &str) -> Article {
        Article {
            id: "t".into(),
            path: PathBuf::from("t.txt"),
            title: "T".into(),
            date: None,
            url: None,
            text: text.into(),
        }
    }

    fn sentences(text: &str) -> Vec<&str> {
        split_sentences(text)
            .into_iter()
            .map(|r| &text[r])
            .collect()
    }

    #[test]
    fn abbreviations_numbers_quotes_and_dashes() {
        let text = "Gen. Syrsky replaced Gen. Zaluzhny. Kyiv holds 1,200 square kilometers and 3.5 percent of it. Ukraine received approval—formal or informal—from the U.S. and the UK. Following these “approvals,” Kyiv attacked. “Will it end?” he asked. Mr. Smith agreed.";
        assert_eq!(
            sentences(text),
            vec![
                "Gen. Syrsky replaced Gen. Zaluzhny.",
                "Kyiv holds 1,200 square kilometers and 3.5 percent of it.",
                "Ukraine received approval—formal or informal—from the U.S. and the UK.",
                "Following these “approvals,” Kyiv attacked.",
                "“Will it end?” he asked.",
                "Mr. Smith agreed.",
            ]
        );
    }

    #[test]
    fn sentences_do_not_cross_paragraphs() {
        let text = "First paragraph without a stop\nSecond paragraph.\n\nThird one.";
        assert_eq!(
            sentences(text),
            vec![
                "First paragraph without a stop",
                "Second paragraph.",
                "Third one."
            ]
        );
    }

    fn words(n: usize, tag: &str) -> String {
        let body: Vec<String> = (0..n).map(|i| format!("{tag}{i}")).collect();
        format!("{}.", body.join(" "))
    }

    #[test]
    fn passages_respect_sizes_and_overlap_one_sentence() {
        // One paragraph of twelve 20-word sentences.
        let text: Vec<String> = (0..12).map(|i| words(20, &format!("s{i}w"))).collect();
        let art = article(&text.join(" "));
        let cfg = ChunkConfig::default();
        let passages = chunk_article(&art, &cfg);
        assert!(passages.len() >= 3);
        for (i, p) in passages.iter().enumerate() {
            assert_eq!(&art.text[p.range.clone()], p.text);
            let n = word_count(&p.text);
            assert!(n <= cfg.max_words, "passage {i} has {n} words");
            if i + 1 < passages.len() {
                assert!(n >= cfg.min_words, "passage {i} has {n} words");
                // The next passage starts with this one's last sentence.
                let last = p.sentences.last().unwrap();
                assert_eq!(passages[i + 1].sentences.first().unwrap(), last);
            }
        }
        // Every sentence appears in some passage.
        for r in split_sentences(&art.text) {
            assert!(passages.iter().any(|p| p.sentences.contains(&r)));
        }
    }

    #[test]
    fn short_paragraphs_merge_and_paragraph_ends_close_passages() {
        let paras = [
            words(30, "a"),
            words(40, "b"),
            words(70, "c"),
            words(10, "d"),
        ];
        let art = article(&paras.join("\n\n"));
        let passages = chunk_article(&art, &ChunkConfig::default());
        let texts: Vec<&str> = passages.iter().map(|p| p.text.as_str()).collect();
        // 30 + 40 words reach the minimum at a paragraph end; 70 alone does; 10 is the rest.
        assert_eq!(texts.len(), 3, "{texts:?}");
        assert!(texts[0].starts_with("a0") && texts[0].ends_with("b39."));
        assert!(texts[1].starts_with("c0") && texts[1].ends_with("c69."));
        assert_eq!(texts[2], paras[3]);
    }

    #[test]
    fn an_overlong_sentence_is_cut_at_word_boundaries() {
        let art = article(&words(300, "w"));
        let passages = chunk_article(&art, &ChunkConfig::default());
        assert_eq!(passages.len(), 3);
        for p in &passages {
            assert_eq!(&art.text[p.range.clone()], p.text);
            assert!(word_count(&p.text) <= 120);
        }
        let joined: Vec<&str> = passages.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(joined.join(" "), art.text);
    }

    #[test]
    fn empty_and_whitespace_articles_have_no_passages() {
        assert!(chunk_article(&article(""), &ChunkConfig::default()).is_empty());
        assert!(chunk_article(&article("  \n\n "), &ChunkConfig::default()).is_empty());
    }
}
