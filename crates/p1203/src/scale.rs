//! The MOS ↔ R-scale conversion shared by P.1203.1 and P.1203.2 (P.1203.1 cl. 8, from P.1201.2).
use std::sync::OnceLock;

const MOS_MAX: f64 = 4.9;
const MOS_MIN: f64 = 1.05;

/// MOS from the R (quality) scale 0–100. The cubic dips slightly below 1.05 for 0 < Q < ≈3.19
/// (minimum ≈1.0472); as published, it is not clamped there.
pub fn mos_from_r(q: f64) -> f64 {
    if q <= 0.0 {
        MOS_MIN
    } else if q >= 100.0 {
        MOS_MAX
    } else {
        MOS_MIN + (MOS_MAX - MOS_MIN) * q / 100.0 + q * (q - 60.0) * (100.0 - q) * 7e-6
    }
}

/// R from MOS: the inverse of [`mos_from_r`] on its increasing branch, by linear interpolation on
/// the grid (1.05 → 0), (mos_from_r(Q) → Q) for Q = 3.25, 3.50, …, 100 — the realisation the
/// reference results reflect (docs/p1203.md §3.1).
pub fn r_from_mos(mos: f64) -> f64 {
    let grid = grid();
    let mos = mos.clamp(MOS_MIN, MOS_MAX);
    // The first node whose MOS is ≥ mos (there is one: the last node is 4.9).
    let upper = grid.partition_point(|&(m, _)| m < mos);
    let (m1, q1) = grid[upper];
    if upper == 0 || m1 == mos {
        return q1;
    }
    let (m0, q0) = grid[upper - 1];
    q0 + (mos - m0) * (q1 - q0) / (m1 - m0)
}

fn grid() -> &'static [(f64, f64)] {
    static GRID: OnceLock<Vec<(f64, f64)>> = OnceLock::new();
    GRID.get_or_init(|| {
        let mut grid = vec![(MOS_MIN, 0.0)];
        // Q = 3.25 + 0.25·i for i = 0..=387 reaches 100 exactly (all multiples of 0.25).
        grid.extend((0..=387).map(|i| {
            let q = 3.25 + 0.25 * f64::from(i);
            (mos_from_r(q), q)
        }));
        grid
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grid_has_389_increasing_nodes() {
        let grid = grid();
        assert_eq!(grid.len(), 389);
        assert!(grid.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(grid.last(), Some(&(4.9, 100.0)));
    }

    #[test]
    fn conversions() {
        let cases: [(&str, f64, f64); 6] = [
            ("below the scale", -3.0, 1.05),
            ("top", 100.0, 4.9),
            (
                "middle",
                50.0,
                1.05 + 3.85 * 0.5 + 50.0 * -10.0 * 50.0 * 7e-6,
            ),
            (
                "the dip is not clamped",
                1.59,
                1.05 + 3.85 * 0.0159 + 1.59 * (1.59 - 60.0) * (100.0 - 1.59) * 7e-6,
            ),
            (
                "just above 0",
                0.001,
                1.05 + 3.85e-5 + 0.001 * (0.001 - 60.0) * 99.999 * 7e-6,
            ),
            ("above the scale", 250.0, 4.9),
        ];
        for (name, q, mos) in cases {
            assert!((mos_from_r(q) - mos).abs() < 1e-12, "{name}");
        }
        // Grid nodes come back exactly; between nodes the inverse is within 1e-3 of the truth.
        for q in [3.25, 40.0, 77.5, 100.0] {
            assert_eq!(r_from_mos(mos_from_r(q)), q);
        }
        for q in [10.1, 33.3, 64.2, 90.1] {
            assert!((r_from_mos(mos_from_r(q)) - q).abs() < 1e-3, "{q}");
        }
        assert_eq!(r_from_mos(0.5), 0.0, "clamped to 1.05");
        assert_eq!(r_from_mos(7.0), 100.0, "clamped to 4.9");
    }
}
