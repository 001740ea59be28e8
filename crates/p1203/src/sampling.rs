//! Which segment scores which media second (P.1203 measurement window; docs/p1203.md §2).
//!
//! A segment of duration `d` at `f` frames/s is ⌊d·f⌋ frames of 1/f s; segments lie end to end
//! from 0. Second `k` (1-based, media time (k−1, k]) is scored with the segment holding the last
//! frame that starts strictly before `k`. There are ⌊E⌋ seconds for a total length `E`, one more
//! when its fraction exceeds 0.99.
//!
//! Frame starts are summed frame by frame in binary floating point, as the reference software
//! does (docs/p1203.md §2, quirk a): a boundary meant to fall on a whole second can land a hair
//! before it (180 frames of 1/30 s sum to 5.9999999999999885), and the second then takes the
//! later segment. The worked example D depends on it; wherever the sums are exact this is the
//! exact rule.

/// For each media second, the index of the segment that scores it. `frames` gives each segment's
/// frame count and frame rate.
pub fn seconds_to_segments(frames: impl IntoIterator<Item = (u64, f64)>) -> Vec<usize> {
    let mut starts: Vec<(usize, f64)> = Vec::new();
    let mut end = 0.0_f64;
    for (index, (count, rate)) in frames.into_iter().enumerate() {
        if count > 0 {
            starts.push((index, end));
            let frame = 1.0 / rate;
            for _ in 0..count {
                end += frame;
            }
        }
    }
    let whole = end.floor();
    let seconds = if end - whole > 0.99 {
        whole as usize + 1
    } else {
        whole as usize
    };
    let mut out = Vec::with_capacity(seconds);
    let mut current = 0;
    for k in 1..=seconds {
        let k = k as f64;
        while current + 1 < starts.len() && starts[current + 1].1 < k {
            current += 1;
        }
        out.push(starts[current].0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_inside_and_on_a_second() {
        // (name, segments as (frames, fps), expected segment per second)
        // Frames of 1/32 and 1/128 s sum exactly in binary; 1/30 does not.
        /// (name, segments as (frames, frame rate), the segment of each second)
        type Case = (&'static str, &'static [(u64, f64)], &'static [usize]);
        let cases: [Case; 7] = [
            (
                "a change on a whole second: that second keeps the earlier segment",
                &[(192, 32.0), (192, 32.0)],
                &[0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1],
            ),
            (
                "a change at 5.5 s gives second 6 the later segment",
                &[(176, 32.0), (176, 32.0)],
                &[0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1],
            ),
            (
                "180 frames of 1/30 s end just before 6 s: second 6 is the later segment's",
                &[(180, 30.0), (180, 30.0)],
                &[0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1],
            ),
            (
                "empty segments are skipped",
                &[(64, 32.0), (0, 32.0), (64, 32.0)],
                &[0, 0, 2, 2],
            ),
            (
                "a fraction over 0.99 is one more second",
                &[(511, 128.0)],
                &[0, 0, 0, 0],
            ),
            ("a fraction of 0.96875 is not", &[(127, 32.0)], &[0, 0, 0]),
            (
                "29.97 fps: 179 frames are 5.973 s",
                &[(179, 29.97), (179, 29.97)],
                &[0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1],
            ),
        ];
        for (name, frames, want) in cases {
            assert_eq!(seconds_to_segments(frames.iter().copied()), want, "{name}");
        }
    }
}
