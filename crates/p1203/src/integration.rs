//! P.1203.3: from per-second audio and video scores and the stalls to O34, O35, O23 and the final
//! MOS O46 (docs/p1203.md §5–§6). Where some quantities use only the first `T` seconds and others
//! the whole arrays, that is the Recommendation's (as its reference results show), not a slip.
use crate::forest::{self, FEATURES};
use crate::Output;

// P.1203.3 coefficients (docs/p1203.md §6.9).
const C1: f64 = 1.874_036_25;
const C2: f64 = 7.854_164_81;
const C7: f64 = 0.484_128_79;
const C8: f64 = 10.0;
const C23: f64 = 0.018_538_20;
const V: [f64; 4] = [-0.000_690_84, 0.153_742_83, 0.971_538_61, 0.024_617_76];
const T1: f64 = 0.006_666_200_279_438_48;
const T2: f64 = 0.000_040_401_884_027_372_9;
const T3: f64 = 0.156_497_800_436_237;
const T4: f64 = 0.143_179_744_942_738;
const T5: f64 = 0.023_864_156_451_887_6;
const K1: f64 = 0.677_560_80;
const K2: f64 = -8.055_333_03;
const K3: f64 = 0.173_325_53;
const K4: f64 = -0.010_356_47;
const S1: f64 = 9.351_586_84;
const S2: f64 = 0.918_908_15;
const S3: f64 = 11.056_755_8;
const F1: f64 = 0.028_330_52;
const F2: f64 = 0.981_170_59;
/// A per-second change larger than this is a quality change (cl. 8.1.2.3, 8.1.2.4).
const CHANGE: f64 = 0.2;

/// Integrates per-second scores (`o22` non-empty; `o21` empty without audio) with the stalls.
pub fn integrate(o21: Vec<f64>, o22: Vec<f64>, stalls: &[(f64, f64)]) -> Output {
    // Media length T (cl. 3.2.2): without audio, O21 is 5 for every video second.
    let (o21, t) = if o21.is_empty() {
        (vec![5.0; o22.len()], o22.len())
    } else {
        let t = o21.len().min(o22.len());
        (o21, t)
    };
    let tf = t as f64;
    // Stalls (cl. 8.1.1): beyond the media or of zero length they do not exist.
    let stalls: Vec<(f64, f64)> = stalls
        .iter()
        .copied()
        .filter(|&(p, l)| p <= tf && l != 0.0)
        .collect();

    let o34: Vec<f64> = (0..t)
        .map(|i| (V[0] + V[1] * o21[i] + V[2] * o22[i] + V[3] * o21[i] * o22[i]).clamp(1.0, 5.0))
        .collect();

    // Stalling parameters (eq. 1–3) and the stalling impact (eq. 29, 31).
    let weight = |x: f64| C7 + (1.0 - C7) * 0.5_f64.powf(x / C8);
    let count = stalls.len() as f64;
    let total: f64 = stalls.iter().map(|&(p, l)| l * weight(tf - p)).sum();
    let interval = match (stalls.first(), stalls.last()) {
        (Some(first), Some(last)) if stalls.len() > 1 => (last.0 - first.0) / (count - 1.0),
        _ => 0.0,
    };
    let si = (-count / S1).exp() * (-(total / tf) / S2).exp() * (-(interval / tf) / S3).exp();
    let o23 = 1.0 + 4.0 * si;

    let o35 = audiovisual(&o22, &o34, t);
    let rf = forest::predict(&features(&o21, &o22, &stalls, tf));
    let mos_stall = (1.0 + (o35 - 1.0) * si).clamp(1.0, 5.0);
    let o46 = F1 + F2 * (0.75 * mos_stall + 0.25 * rf);
    Output {
        o21,
        o22,
        o23,
        o34,
        o35,
        o46,
    }
}

/// O35 (cl. 8.3, eq. 18–27): temporally weighted O34 less the negative bias and the oscillation
/// and adaptation compensations.
fn audiovisual(o22: &[f64], o34: &[f64], t: usize) -> f64 {
    let tf = t as f64;
    let (mut num, mut den) = (0.0, 0.0);
    for (i, &q) in o34.iter().enumerate() {
        let w1 = T1 + T2 * ((i as f64 / tf) / T3).exp();
        let w2 = T4 - T5 * q;
        num += w1 * w2 * q;
        den += w1 * w2;
    }
    let base = num / den;

    // Negative bias (eq. 4–7): recent dips weigh more.
    let mut diff: Vec<f64> = o34
        .iter()
        .enumerate()
        .map(|(i, &q)| (q - base) * (C1 + (1.0 - C1) * 0.5_f64.powf((tf - 1.0 - i as f64) / C2)))
        .collect();
    diff.sort_by(f64::total_cmp);
    let neg_bias = (-percentile(&diff, 10.0)).max(0.0) * C23;

    let spread = o22.iter().copied().fold(f64::NEG_INFINITY, f64::max)
        - o22.iter().copied().fold(f64::INFINITY, f64::min);
    let change_rate = (1..t)
        .filter(|&i| (o22[i] - o22[i - 1]).abs() > CHANGE)
        .count() as f64
        / tf;
    let (changes_total, changes_longest) = direction_changes(o22);
    let longest = changes_longest as f64;
    let osc_comp = if longest / tf < 0.25 && longest < 30.0 {
        let q_diff = (1.0 + (spread + 0.001).log10()).max(0.0);
        (q_diff * (K1 * changes_total as f64 + K2).exp()).clamp(0.0, 1.5)
    } else {
        0.0
    };
    let adapt_comp = if longest / tf < 0.25 {
        (K3 * spread * change_rate + K4).clamp(0.0, 0.5)
    } else {
        0.0
    };
    base - neg_bias - osc_comp - adapt_comp
}

/// Quality-direction changes of the whole O22 (cl. 8.1.2.4, 8.1.2.5): the number of runs of
/// rising or falling quality, and the longest span between direction changes, in seconds.
pub fn direction_changes(o22: &[f64]) -> (usize, usize) {
    let n = o22.len();
    let padded: Vec<f64> = std::iter::repeat_n(o22[0], 4)
        .chain(o22.iter().copied())
        .chain(std::iter::repeat_n(o22[n - 1], 4))
        .collect();
    let averages: Vec<f64> = padded
        .windows(5)
        .map(|w| w.iter().sum::<f64>() / 5.0)
        .collect();
    let directions: Vec<i8> = (0..)
        .map(|j| 3 * j)
        .take_while(|&i| i + 3 < averages.len())
        .map(|i| {
            let delta = averages[i + 3] - averages[i];
            if delta > CHANGE {
                1
            } else if delta > -CHANGE && delta < CHANGE {
                0
            } else {
                -1
            }
        })
        .collect();
    let mut turns = Vec::new();
    let mut previous = 0;
    for (j, &d) in directions.iter().enumerate() {
        if d != 0 && d != previous {
            turns.push(j);
            previous = d;
        }
    }
    let total = turns.len();
    let longest = if turns.is_empty() {
        3 * directions.len()
    } else {
        let marks: Vec<usize> = std::iter::once(0)
            .chain(turns.iter().copied())
            .chain(std::iter::once(directions.len()))
            .collect();
        3 * marks.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0)
    };
    (total, longest)
}

/// The 14 forest features (cl. 8.1.3) from the stalls and the whole per-second arrays, rounded.
fn features(o21: &[f64], o22: &[f64], stalls: &[(f64, f64)], t: f64) -> [f64; FEATURES] {
    let video: Vec<f64> = o22.iter().map(|&v| round3(v)).collect();
    let audio: Vec<f64> = o21.iter().map(|&v| round3(v)).collect();
    // The initial loading counts a third; rebuffering is every other stall.
    let initial = stalls.first().filter(|s| s.0 == 0.0).map_or(0.0, |s| s.1);
    let rebuffers: Vec<&(f64, f64)> = stalls.iter().filter(|s| s.0 != 0.0).collect();
    let count = rebuffers.len() as f64;
    let stalled = rebuffers.iter().map(|s| s.1).sum::<f64>() + initial / 3.0;
    let since_last = rebuffers.last().map_or(t, |s| t - s.0);
    let video_thirds = part_means(&video, 3);
    let audio_halves = part_means(&audio, 2);
    let mut sorted = video.clone();
    sorted.sort_by(f64::total_cmp);
    [
        count,
        stalled,
        count / t,
        stalled / t,
        since_last,
        video_thirds[0],
        video_thirds[1],
        video_thirds[2],
        percentile(&sorted, 1.0),
        percentile(&sorted, 5.0),
        percentile(&sorted, 10.0),
        audio_halves[0],
        audio_halves[1],
        t,
    ]
}

/// Means of `values` as a step function (value `i` on [i, i+1)) over `parts` equal parts of
/// [0, n); a second across a border is shared in proportion.
pub fn part_means(values: &[f64], parts: usize) -> Vec<f64> {
    let n = values.len() as f64;
    let width = n / parts as f64;
    (0..parts)
        .map(|p| {
            let (from, to) = (p as f64 * width, (p + 1) as f64 * width);
            let first = from.floor() as usize;
            let last = (to.ceil() as usize).min(values.len());
            let area: f64 = (first..last)
                .map(|i| {
                    let overlap = (to.min(i as f64 + 1.0) - from.max(i as f64)).max(0.0);
                    values[i] * overlap
                })
                .sum();
            area / width
        })
        .collect()
}

/// The `percent`-th percentile of ascending `sorted` by linear interpolation between closest
/// ranks (docs/p1203.md §6.7).
pub fn percentile(sorted: &[f64], percent: f64) -> f64 {
    let h = percent / 100.0 * (sorted.len() - 1) as f64;
    let low = h.floor() as usize;
    match sorted.get(low + 1) {
        Some(&next) => sorted[low] + (h - low as f64) * (next - sorted[low]),
        None => sorted[low],
    }
}

/// Rounds to 3 decimals as decimal arithmetic would, halves to even (the reference rounds the
/// binary value's exact decimal expansion).
fn round3(value: f64) -> f64 {
    let scaled = value * 1000.0;
    let rounded = scaled.round_ties_even();
    // Near a tie the product's own rounding could decide wrongly: settle it exactly.
    if ((scaled - scaled.trunc()).abs() - 0.5).abs() < 1e-6 {
        return format!("{value:.3}").parse().unwrap_or(rounded / 1000.0);
    }
    rounded / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate_between_closest_ranks() {
        let ten: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(percentile(&ten, 10.0), 1.9);
        assert_eq!(percentile(&ten, 50.0), 5.5);
        assert_eq!(percentile(&[4.2], 1.0), 4.2);
    }

    #[test]
    fn parts_share_a_second_across_a_border() {
        let values: Vec<f64> = (0..10).map(f64::from).collect();
        let thirds = part_means(&values, 3);
        assert!((thirds[0] - (0.0 + 1.0 + 2.0 + 3.0 / 3.0) / (10.0 / 3.0)).abs() < 1e-12);
        assert_eq!(
            part_means(&[2.0, 4.0], 3).len(),
            3,
            "fewer seconds than parts"
        );
        assert!(
            (part_means(&[2.0, 4.0], 3)[1] - 3.0).abs() < 1e-12,
            "the middle third straddles both"
        );
    }

    #[test]
    fn quality_direction_changes() {
        // (name, O22, (runs, longest span))
        let flat = vec![4.0; 30];
        let mut step = vec![2.0; 15];
        step.extend(vec![4.0; 15]);
        let mut up_down = vec![2.0; 10];
        up_down.extend(vec![4.0; 10]);
        up_down.extend(vec![2.0; 10]);
        let cases: [(&str, Vec<f64>, (usize, usize)); 3] = [
            ("flat: no change, the whole length", flat, (0, 3 * 11)),
            ("one step up", step, (1, 3 * 7)),
            ("up then down", up_down, (2, 3 * 5)),
        ];
        for (name, o22, want) in cases {
            assert_eq!(direction_changes(&o22), want, "{name}");
        }
    }

    #[test]
    fn rounding_to_three_decimals() {
        // 2.0005 is 2.000500000000000078… in binary: above the tie. 0.0625 and 0.1875 are exact ties.
        for (value, want) in [
            (4.12345, 4.123),
            (2.0005, 2.001),
            (0.0625, 0.062),
            (0.1875, 0.188),
            (3.99951, 4.0),
            (1.0, 1.0),
        ] {
            assert_eq!(round3(value), want, "{value}");
        }
    }
}
