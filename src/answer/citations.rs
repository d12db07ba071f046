//! Citation markers in an answer (`[1]`, `[1, 2]`, `[1][2]`): read out of a sentence, or
//! removed from an answer.

/// `answer` without its citation markers (`[1]`, `[1][2]`).
pub fn without_citations(answer: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    for c in answer.chars() {
        match c {
            '[' => depth += 1,
            ']' if depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// `answer` with each citation marker `[n]` numbered `to(n)` (a marker `to` has no number
/// for is kept as it is).
pub(super) fn renumbered(answer: &str, to: impl Fn(usize) -> Option<usize>) -> String {
    let mut out = String::new();
    let mut rest = answer;
    while let Some(open) = rest.find('[') {
        let Some(close) = rest[open..].find(']') else {
            break;
        };
        out.push_str(&rest[..open]);
        let inside = &rest[open + 1..open + close];
        match inside.trim().parse().ok().and_then(&to) {
            Some(n) => out.push_str(&format!("[{n}]")),
            None => out.push_str(&rest[open..open + close + 1]),
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

/// Citation numbers in a sentence (`[1]`, `[1, 2]`, `[1][2]`), and the sentence without them.
pub(super) fn take_markers(sentence: &str) -> (String, Vec<usize>) {
    let mut out = String::new();
    let mut numbers = Vec::new();
    let mut rest = sentence;
    while let Some(open) = rest.find('[') {
        let Some(close) = rest[open..].find(']') else {
            break;
        };
        let inside = &rest[open + 1..open + close];
        let parsed: Option<Vec<usize>> = inside
            .split([',', ' '])
            .filter(|p| !p.is_empty())
            .map(|p| p.trim().parse().ok())
            .collect();
        match parsed {
            Some(ns) if !ns.is_empty() => {
                out.push_str(&rest[..open]);
                numbers.extend(ns);
            }
            _ => out.push_str(&rest[..open + close + 1]),
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    let cleaned = out
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace(" .", ".")
        .replace(" ,", ",");
    (cleaned, numbers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_renumbered_and_other_brackets_kept() {
        let to = |n: usize| (n == 6).then_some(3);
        assert_eq!(renumbered("Storm Shadows [6].", to), "Storm Shadows [3].");
        assert_eq!(renumbered("“A [sic] quote” [2]", to), "“A [sic] quote” [2]");
    }
}
