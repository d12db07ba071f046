//! Drafts for greedy decoding, looked up in the prompt. An answer read from a text mostly
//! copies it, so the tokens that followed the last few generated ones where they occur
//! earlier (in the text, or in the answer itself) are a good guess of what comes next. The
//! model checks a draft in one pass, with the logits of every drafted position: the tokens it
//! would have chosen anyway are kept, the first it would not is replaced by its own choice and
//! the cache forgets the rest. The output is the greedy output, in fewer passes (a pass over
//! a few rows reads the weights once, as a single step does).

/// Tokens drafted at most per pass.
pub(super) const MAX_DRAFT: usize = 8;
/// Longest and shortest suffix of the context looked up.
const MAX_MATCH: usize = 3;
const MIN_MATCH: usize = 2;

/// The draft after `prompt` then `generated`: for the longest suffix of `MAX_MATCH` down to
/// `MIN_MATCH` tokens that occurs earlier, up to `max` tokens that followed its latest earlier
/// occurrence. Empty when none occurs.
pub(super) fn draft(prompt: &[u32], generated: &[u32], max: usize) -> Vec<u32> {
    let context: Vec<u32> = prompt.iter().chain(generated).copied().collect();
    let len = context.len();
    for n in (MIN_MATCH..=MAX_MATCH).rev() {
        if len <= n {
            continue;
        }
        let tail = &context[len - n..];
        // Latest earlier occurrence: it starts before the tail does.
        if let Some(start) = (0..len - n).rev().find(|&i| &context[i..i + n] == tail) {
            let from = start + n;
            return context[from..(from + max).min(len)].to_vec();
        }
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tokens_after_the_latest_earlier_occurrence() {
        // "… 1 2 3 4 5 … 1 2 3 9 …", answer so far "2 3": the latest "2 3" is followed by 9.
        let prompt = [7, 1, 2, 3, 4, 5, 6, 1, 2, 3, 9, 8];
        assert_eq!(draft(&prompt, &[2, 3], 3), vec![9, 8, 2]);
        // A longer suffix wins over a later shorter one: "1 2 3" occurs twice, latest → 9.
        assert_eq!(draft(&prompt, &[1, 2, 3], 2), vec![9, 8]);
        // The draft stops at the end of the context (the answer so far counts) and at `max`.
        assert_eq!(draft(&prompt, &[9, 8], 8), vec![9, 8]);
        assert_eq!(draft(&prompt, &[4, 5], 1), vec![6]);
    }

    #[test]
    fn nothing_when_the_suffix_never_occurred() {
        assert!(draft(&[1, 2, 3], &[5, 6], 4).is_empty());
        // A single token is not enough to look up.
        assert!(draft(&[1, 2, 3], &[2], 4).is_empty());
        assert!(draft(&[], &[], 4).is_empty());
    }
}
