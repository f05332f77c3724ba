//! "Did you mean" suggestions with HAProxy's own metric, so haproxide proposes the same
//! keyword HAProxy would: a fingerprint of letter/digit/other transitions per word, compared
//! by summed absolute difference, rejected when farther than twice either word's length.

/// Character classes as HAProxy 2.6 numbers them: letters 1..=26 (case-insensitive),
/// digits 27, anything else 28; the word's begin and end also count as 28.
fn class(c: u8) -> usize {
    match c.to_ascii_lowercase() {
        c @ b'a'..=b'z' => (c - b'a') as usize + 1,
        b'0'..=b'9' => 27,
        _ => 28,
    }
}

/// Counts transitions `32 * from + to`, and flags each class seen in the first row, the
/// way HAProxy's `update_word_fingerprint` does.
fn fingerprint(word: &str) -> [u8; 1024] {
    let mut fp = [0u8; 1024];
    let mut from = 28usize;
    for &b in word.as_bytes() {
        let to = class(b);
        fp[to] = 1;
        fp[32 * from + to] = fp[32 * from + to].wrapping_add(1);
        from = to;
    }
    fp[32 * from + 28] = fp[32 * from + 28].wrapping_add(1);
    fp
}

fn distance(a: &[u8; 1024], b: &[u8; 1024]) -> usize {
    a.iter()
        .zip(b.iter())
        .map(|(&x, &y)| (x as i32 - y as i32).unsigned_abs() as usize)
        .sum()
}

/// The candidate closest to `word`, if it is close enough by HAProxy's rule.
pub fn best_match<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let sig = fingerprint(word);
    let mut best: Option<(&str, usize)> = None;
    for cand in candidates {
        let d = distance(&sig, &fingerprint(cand));
        if best.is_none_or(|(_, bd)| d < bd) {
            best = Some((cand, d));
        }
    }
    let (cand, d) = best?;
    if d > 2 * word.len() || d > 2 * cand.len() {
        return None;
    }
    Some(cand)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_close_keywords() {
        assert_eq!(
            best_match("balnce", ["balance", "bind", "mode"]),
            Some("balance")
        );
        assert_eq!(
            best_match("Frontend", ["frontend", "backend"]),
            Some("frontend")
        );
        assert_eq!(best_match("chekc", ["check", "cookie"]), Some("check"));
    }

    #[test]
    fn rejects_far_words() {
        assert_eq!(best_match("zzzzzzzzzzzz", ["a"]), None);
        assert_eq!(best_match("x", std::iter::empty()), None);
    }
}
