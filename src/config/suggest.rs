//! "Did you mean" suggestions with HAProxy's own metric, so haproxide proposes the same
//! keyword HAProxy would: a fingerprint of letter/digit/other transitions per word, compared
//! by summed absolute difference, rejected when farther than twice either word's length.

/// Character classes of the fingerprint: 0..25 letters, 26 digit, 27 other, 28 begin, 29 end.
fn class(c: u8) -> usize {
    match c {
        b'a'..=b'z' => (c - b'a') as usize,
        b'A'..=b'Z' => (c - b'A') as usize,
        b'0'..=b'9' => 26,
        _ => 27,
    }
}

fn fingerprint(word: &str) -> [u8; 1024] {
    let mut fp = [0u8; 1024];
    let mut from = 28usize;
    for &b in word.as_bytes() {
        let to = class(b);
        fp[from * 32 + to] = fp[from * 32 + to].saturating_add(1);
        from = to;
    }
    fp[from * 32 + 29] = fp[from * 32 + 29].saturating_add(1);
    fp
}

fn distance(a: &[u8; 1024], b: &[u8; 1024]) -> usize {
    a.iter().zip(b.iter()).map(|(&x, &y)| (x as i32 - y as i32).unsigned_abs() as usize).sum()
}

/// The candidate closest to `word`, if it is close enough by HAProxy's rule.
pub fn best_match<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let sig = fingerprint(word);
    let mut best: Option<(&str, usize)> = None;
    for cand in candidates {
        let d = distance(&sig, &fingerprint(cand));
        if best.map_or(true, |(_, bd)| d < bd) {
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
        assert_eq!(best_match("balnce", ["balance", "bind", "mode"]), Some("balance"));
        assert_eq!(best_match("Frontend", ["frontend", "backend"]), Some("frontend"));
        assert_eq!(best_match("chekc", ["check", "cookie"]), Some("check"));
    }

    #[test]
    fn rejects_far_words() {
        assert_eq!(best_match("zzzzzzzzzzzz", ["a"]), None);
        assert_eq!(best_match("x", std::iter::empty()), None);
    }
}
